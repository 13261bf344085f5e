import { html, raw, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';

// Two-step verification on /account: the section of the account page, and
// the pages of an authenticator app (TOTP) and its recovery codes. Forms post
// with the account page's CSRF token; recovery codes are shown once, in the
// answer to the form that created them.

export interface TwoStepSummary {
  /** an authenticator app is on */
  totp: boolean;
  /** unused recovery codes */
  recoveryCodesLeft: number;
}

const csrfField = (token: string) => html`<input type="hidden" name="csrf" value="${token}">`;

/** The account page's section: what is on, and what can be done. */
export function twoStepSection(summary: TwoStepSummary | undefined, csrfToken: string): SafeHtml | '' {
  if (!summary) return '';
  const csrf = csrfField(csrfToken);
  const left = summary.recoveryCodesLeft;
  return html`<section aria-labelledby="two-step-heading">
<h2 id="two-step-heading">Two-step verification</h2>
<p class="muted">After your password, a code from an authenticator app on your phone: a stolen password alone does not sign anyone in.</p>
${summary.totp
    ? html`<p id="totp-status"><strong>Authenticator app: on.</strong> ${left === 0 ? 'No recovery codes left' : `${left} recovery ${left === 1 ? 'code' : 'codes'} left`}.</p>
<ul class="items">
<li><a href="/account/two-step/recovery-codes">Create new recovery codes</a></li>
<li><a href="/account/two-step/totp/new">Set up a new authenticator app</a></li>
<li><a href="/account/two-step/totp/off">Turn off the authenticator app</a></li>
</ul>`
    : html`<p id="totp-status">Authenticator app: off.</p>
<form method="post" action="/account/two-step/totp/start">${csrf}<button type="submit">Set up authenticator app</button></form>`}
</section>`;
}

/** The one field every page here asks for. */
function codeField(options: { label: string; hint: string; numeric: boolean; error?: string }): SafeHtml {
  return html`<div class="field">
<label for="code">${options.label}</label>
<p class="muted" id="code-hint">${options.hint}</p>
<input type="text" id="code" name="code" autocomplete="one-time-code"${options.numeric ? html` inputmode="numeric"` : ''} autocapitalize="none" spellcheck="false" maxlength="64" required autofocus aria-describedby="${options.error ? 'code-hint code-error' : 'code-hint'}">
</div>`;
}

const errorMessage = (error?: string) => (error ? html`<p class="alert" role="alert" id="code-error">${error}</p>` : '');

/** The secret as people copy it by eye: groups of four. */
export const groupedSecret = (secret: string) => secret.replace(/(.{4})(?=.)/g, '$1 ');

/**
 * The QR code from the service (an SVG made by `qrcode` from the otpauth URI:
 * markup of our own making, no text of the person's), with a size and an
 * accessible name. Anything that is not a plain <svg> element is not shown.
 */
export function qrImage(svg: string): SafeHtml | '' {
  const trimmed = svg.trim();
  if (!/^<svg [^>]*>[^]*<\/svg>$/.test(trimmed) || /<(script|foreignObject|image|a)\b|\son\w+=|style=|href=/i.test(trimmed)) return '';
  return raw(trimmed.replace(/^<svg /, '<svg role="img" aria-label="QR code to scan with your authenticator app" width="200" height="200" '));
}

export interface TotpSetupPageOptions {
  csrfToken: string;
  secret: string;
  qrSvg: string;
  /** TOTP is on already: this sets up a new app, the old one works until then */
  replacing: boolean;
  error?: string;
  requestId: string;
}

export function totpSetupPage(options: TotpSetupPageOptions): string {
  const body = html`<h1>Set up an authenticator app</h1>
<p class="lead">${options.replacing ? 'Your current app keeps working until the new one is turned on.' : 'Use an app such as Google Authenticator, Microsoft Authenticator, 1Password or Aegis.'}</p>
${errorMessage(options.error)}
<h2>1. Scan this QR code with the app</h2>
<p>${qrImage(options.qrSvg)}</p>
<p class="muted">Cannot scan it? Type this key into the app instead (time-based):</p>
<p><code id="totp-secret">${groupedSecret(options.secret)}</code></p>
<h2>2. Type the code the app shows</h2>
<form method="post" action="/account/two-step/totp">${csrfField(options.csrfToken)}
${codeField({ label: 'Code', hint: 'Six digits, from the app.', numeric: true, error: options.error })}
<div class="actions">
<button type="submit">Turn on</button>
<a href="/account">Cancel</a>
</div>
</form>`;
  return layout({ title: 'Set up an authenticator app', body, requestId: options.requestId });
}

/** Shown once, in the answer to the form that created them: never reachable by a link. */
export function recoveryCodesPage(options: { codes: string[]; totpJustTurnedOn: boolean; requestId: string }): string {
  const body = html`<h1>Save your recovery codes</h1>
${options.totpJustTurnedOn ? html`<p class="notice" role="status">Two-step verification is on.</p>` : ''}
<p>If you lose your phone, each of these codes signs you in once instead of a code from the app. Keep them somewhere safe, such as a password manager or on paper.</p>
<p><strong>They are shown only this once.</strong>${options.totpJustTurnedOn ? '' : ' Your earlier recovery codes no longer work.'}</p>
<ol class="items" id="recovery-codes" aria-label="Recovery codes">
${options.codes.map((code) => html`<li><code>${code}</code></li>`)}
</ol>
<p><a href="/account">Done</a></p>`;
  return layout({ title: 'Save your recovery codes', body, requestId: options.requestId });
}

export function totpOffPage(options: { csrfToken: string; error?: string; requestId: string }): string {
  const body = html`<h1>Turn off the authenticator app</h1>
<p class="lead">Signing in will no longer ask for a code from the app, and your recovery codes stop working.</p>
${errorMessage(options.error)}
<form method="post" action="/account/two-step/totp/off">${csrfField(options.csrfToken)}
${codeField({ label: 'Code', hint: 'A code from your authenticator app, or one of your recovery codes.', numeric: false, error: options.error })}
<div class="actions">
<button type="submit">Turn off</button>
<a href="/account">Cancel</a>
</div>
</form>`;
  return layout({ title: 'Turn off the authenticator app', body, requestId: options.requestId });
}

/** Another app in place of the one that is on: a current code first. */
export function replaceTotpPage(options: { csrfToken: string; error?: string; requestId: string }): string {
  const body = html`<h1>Set up a new authenticator app</h1>
<p class="lead">Your current app keeps working until the new one is turned on.</p>
${errorMessage(options.error)}
<form method="post" action="/account/two-step/totp/start">${csrfField(options.csrfToken)}
${codeField({ label: 'Code', hint: 'A code from your current authenticator app, or one of your recovery codes.', numeric: false, error: options.error })}
<div class="actions">
<button type="submit">Continue</button>
<a href="/account">Cancel</a>
</div>
</form>`;
  return layout({ title: 'Set up a new authenticator app', body, requestId: options.requestId });
}

export function newRecoveryCodesPage(options: { csrfToken: string; error?: string; requestId: string }): string {
  const body = html`<h1>Create new recovery codes</h1>
<p class="lead">You get ten new codes; the ones you have now stop working.</p>
${errorMessage(options.error)}
<form method="post" action="/account/two-step/recovery-codes">${csrfField(options.csrfToken)}
${codeField({ label: 'Code', hint: 'A code from your authenticator app, or one of your recovery codes.', numeric: false, error: options.error })}
<div class="actions">
<button type="submit">Create new recovery codes</button>
<a href="/account">Cancel</a>
</div>
</form>`;
  return layout({ title: 'Create new recovery codes', body, requestId: options.requestId });
}
