import { html, type SafeHtml } from './html.ts';

// Passkeys on the pages: the section of /account and the "Sign in with a
// passkey" button of the sign-in page. Their buttons start hidden and the one
// script (views/assets/passkeys.js, served as /assets/passkeys.js) shows them:
// without JavaScript or WebAuthn no passkey control that cannot work appears.

export const PASSKEY_SCRIPT_PATH = '/assets/passkeys.js';

/** The script that runs every passkey button of a page (CSP script-src 'self'; deferred, so it finds the buttons). */
export const passkeyScript = (): SafeHtml => html`<script src="${PASSKEY_SCRIPT_PATH}" defer></script>`;

export interface PasskeyEntry {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  synced: boolean;
}

export interface PasskeySectionData {
  /** false when the issuer is an IP address: no passkey can be added (existing ones can still be removed) */
  available: boolean;
  passkeys: PasskeyEntry[];
  /** after an action (POST-redirect-GET), from a fixed list */
  notice?: string;
  error?: string;
}

export const PASSKEY_PATHS = {
  options: '/account/passkeys/options',
  register: '/account/passkeys',
  remove: '/account/passkeys/remove',
} as const;

const when = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function passkeyList(passkeys: PasskeyEntry[], csrf: SafeHtml): SafeHtml {
  if (passkeys.length === 0) return html`<p class="muted">You have no passkeys yet.</p>`;
  return html`<ul class="items">${passkeys.map((p) => html`<li>
<h3>${p.name}${p.synced ? html` <span class="tag">synced</span>` : ''}</h3>
<p class="muted">Added ${when(p.createdAt)}, ${p.lastUsedAt ? `last used ${when(p.lastUsedAt)}` : 'not used yet'}</p>
<form method="post" action="${PASSKEY_PATHS.remove}">${csrf}<input type="hidden" name="passkey" value="${p.id}">
<button type="submit" class="secondary" aria-label="${`Remove passkey ${p.name}`}">Remove</button></form>
</li>`)}</ul>`;
}

/** The "Passkeys" section of /account; nothing when passkeys are unavailable and the person has none. */
export function passkeySection(data: PasskeySectionData | undefined, csrf: SafeHtml): SafeHtml | '' {
  if (!data || (!data.available && data.passkeys.length === 0)) return '';
  return html`<section aria-labelledby="passkeys-heading">
<h2 id="passkeys-heading">Passkeys</h2>
<p class="muted">A passkey signs you in with your device's screen lock, fingerprint or face, or a security key, instead of a password; after your password it is a second step.</p>
${data.notice ? html`<p class="notice" role="status">${data.notice}</p>` : ''}
${data.error ? html`<p class="alert" role="alert">${data.error}</p>` : ''}
${passkeyList(data.passkeys, csrf)}
${data.available ? html`<form method="post" action="${PASSKEY_PATHS.register}" data-passkey-section hidden>${csrf}
<div class="field">
<label for="passkey-name">Passkey name</label>
<input type="text" id="passkey-name" name="name" maxlength="64" required autocomplete="off" spellcheck="false">
</div>
<button type="button" data-passkey="register" data-options="${PASSKEY_PATHS.options}" data-action="${PASSKEY_PATHS.register}" hidden>Add a passkey</button>
</form>
${passkeyScript()}` : ''}
</section>`;
}

/**
 * "Sign in with a passkey" on the sign-in page: outside the password form, in
 * a form of its own that only carries the CSRF token for the script.
 */
export function passkeySignIn(options: { csrfToken: string; optionsUrl: string; action: string }): SafeHtml {
  return html`<form class="actions" data-passkey-section hidden>
<input type="hidden" name="csrf" value="${options.csrfToken}">
<button type="button" class="secondary" data-options="${options.optionsUrl}" data-action="${options.action}" hidden>Sign in with a passkey</button>
</form>
${passkeyScript()}`;
}
