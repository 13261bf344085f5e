import { html } from './html.ts';
import { layout } from './layout.ts';
import { selfRegisteredNotice } from './consent.ts';

// The device flow's pages (RFC 8628 §3.3): the person types the code their
// device shows, checks what is asking on the confirmation page, then signs in
// and consents on the usual pages, and ends on "you can close this window".

/**
 * One message for a code that does not exist, has expired, was used or was
 * refused: the page says nothing about whether a code like it exists.
 */
export const WRONG_USER_CODE_MESSAGE = 'That code is not valid. Check the code shown on your device and type it again. Codes work once and expire after a few minutes.';

/** What the person typed, echoed back into the field: never longer than a code could be. */
const MAX_ECHOED_CODE_LENGTH = 32;

export interface UserCodePageOptions {
  action: string;
  /** the provider's form token (its session-bound xsrf) */
  xsrf: string;
  /** what the person typed before (a wrong code), shown again to correct */
  userCode?: string;
  error?: string;
  /** the sign-in was denied or abandoned: said instead of an error */
  notice?: string;
  requestId: string;
}

export function userCodePage({ action, xsrf, userCode, error, notice, requestId }: UserCodePageOptions): string {
  const typed = userCode && userCode.length <= MAX_ECHOED_CODE_LENGTH ? userCode : '';
  const body = html`<h1>Connect a device</h1>
<p class="lead">Type the code your TV, console or other device shows. Capital or small letters, with or without the dash.</p>
${error ? html`<p class="alert" role="alert">${error}</p>` : ''}
${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
<form method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
<div class="field">
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" value="${typed}" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" maxlength="${MAX_ECHOED_CODE_LENGTH}" required autofocus>
</div>
<div class="actions">
<button type="submit">Continue</button>
</div>
</form>`;
  return layout({ title: 'Connect a device', body, requestId });
}

export interface DeviceScope { name: string; description: string }

export interface ConfirmDevicePageOptions {
  action: string;
  xsrf: string;
  /** the code as the device shows it (with its dash) */
  userCode: string;
  clientName: string;
  /** the client registered itself (RFC 7591): its name is unchecked */
  selfRegistered?: boolean;
  scopes: DeviceScope[];
  /** resource servers (APIs) the device asks tokens for */
  resources: Array<{ identifier: string; name: string }>;
  /** the address the device asked from, when known */
  deviceAddress?: string;
  requestId: string;
}

export function confirmDevicePage(options: ConfirmDevicePageOptions): string {
  const { action, xsrf, userCode, clientName, selfRegistered, scopes, resources, deviceAddress, requestId } = options;
  const hidden = html`<input type="hidden" name="xsrf" value="${xsrf}"><input type="hidden" name="user_code" value="${userCode}">`;
  const body = html`<h1>Connect this device?</h1>
<p class="lead"><strong>${clientName}</strong> on a device is asking to use your account.</p>
${selfRegistered ? selfRegisteredNotice() : ''}
<p>Continue only if your device shows this code and you started this yourself:</p>
<p class="notice"><strong>${userCode}</strong></p>
<h2>It asks to</h2>
<ul class="scopes">${scopes.length
    ? scopes.map((s) => html`<li>${s.description}<code>${s.name}</code></li>`)
    : html`<li>Access your account</li>`}</ul>
${resources.length ? html`<h2>For these services</h2><ul class="scopes">${resources.map((r) => html`<li>${r.name}${r.name !== r.identifier ? html`<code>${r.identifier}</code>` : ''}</li>`)}</ul>` : ''}
${deviceAddress ? html`<p class="muted">The device asked from the address ${deviceAddress}.</p>` : ''}
<p class="muted">If someone sent you this code, or you do not recognise the device, choose Deny: whoever holds the device would get access to your account.</p>
<div class="actions">
<form method="post" action="${action}">${hidden}<input type="hidden" name="confirm" value="yes"><button type="submit">Continue</button></form>
<form method="post" action="${action}">${hidden}<input type="hidden" name="abort" value="yes"><button type="submit" class="secondary">Deny</button></form>
</div>`;
  return layout({ title: 'Connect this device', body, requestId });
}

export function deviceConnectedPage({ clientName, requestId }: { clientName?: string; requestId: string }): string {
  const body = html`<h1>Your device is connected</h1>
${clientName
    ? html`<p><strong>${clientName}</strong> can now use your account on your device.</p>`
    : html`<p>The device can now use your account.</p>`}
<p class="muted">You can close this window. To take the access away later, go to <a href="/account">your account page</a>.</p>`;
  return layout({ title: 'Device connected', body, requestId });
}
