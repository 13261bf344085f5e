import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';
import { groupedSecret, qrImage } from './two-step.ts';

// Setting up two-step verification inside a sign-in, when the application
// requires it and the person has no second factor yet: an authenticator app
// (QR code and the key as text), its first code to turn it on, then the
// recovery codes, shown once, and "Continue" to the application.

export interface EnrollmentPageOptions {
  action: string;
  csrfToken: string;
  clientName: string;
  /** base32, as the person types it into the app */
  secret: string;
  /** the QR code of the otpauth URI, an SVG document rendered by the server (src/mfa) */
  qrSvg: string;
  error?: string;
  requestId: string;
}

function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${token}">`;
}

export function enrollmentPage(options: EnrollmentPageOptions): string {
  const { action, clientName, secret, qrSvg, error, requestId } = options;
  const body = html`<h1>Set up two-step verification</h1>
<p class="lead"><strong>${clientName}</strong> asks for a second step when you sign in. Set up an authenticator app to continue.</p>
${error ? html`<p class="alert" role="alert">${error}</p>` : ''}
<h2>1. Scan this QR code with your authenticator app</h2>
<p>${qrImage(qrSvg)}</p>
<h2>2. Or type this key into the app</h2>
<p><code id="totp-secret" class="secret">${groupedSecret(secret)}</code></p>
<h2>3. Enter the code the app shows</h2>
<form method="post" action="${action}">
${csrfField(options.csrfToken)}
<div class="field">
<label for="code">Code</label>
<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" autocapitalize="none" spellcheck="false" maxlength="64" required>
</div>
<div class="actions">
<button type="submit">Turn on</button>
</div>
</form>`;
  return layout({ title: 'Set up two-step verification', body, requestId });
}

export interface RecoveryCodesPageOptions {
  action: string;
  csrfToken: string;
  clientName: string;
  /** shown here once: they are stored only as digests */
  codes: string[];
  requestId: string;
}

export function recoveryCodesPage({ action, csrfToken, clientName, codes, requestId }: RecoveryCodesPageOptions): string {
  const body = html`<h1>Save your recovery codes</h1>
<p class="notice" role="status">Two-step verification is on.</p>
<p>If you lose your authenticator app, each of these codes signs you in once instead of a code from the app. They are shown only this once: write them down or keep them somewhere safe.</p>
<ul class="recovery-codes" aria-label="Recovery codes">${codes.map((code) => html`<li><code>${code}</code></li>`)}</ul>
<form method="post" action="${action}">
${csrfField(csrfToken)}
<div class="actions">
<button type="submit">Continue</button>
</div>
</form>
<p class="muted">Continue to <strong>${clientName}</strong>. You can make new recovery codes on your account page.</p>`;
  return layout({ title: 'Save your recovery codes', body, requestId });
}

/** The same step reloaded after the codes were shown: they are not shown again. */
export function secondFactorReadyPage({ action, csrfToken, clientName, requestId }: Omit<RecoveryCodesPageOptions, 'codes'>): string {
  const body = html`<h1>Two-step verification is on</h1>
<p class="lead">Continue to <strong>${clientName}</strong>.</p>
<p class="muted">Recovery codes are shown only once. If you did not save them, make new ones on your account page.</p>
<form method="post" action="${action}">
${csrfField(csrfToken)}
<div class="actions">
<button type="submit">Continue</button>
</div>
</form>`;
  return layout({ title: 'Two-step verification is on', body, requestId });
}
