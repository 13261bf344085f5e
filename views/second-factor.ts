import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';
import { passkeyScript } from './passkeys.ts';

// The second step of a sign-in, after the password: a code from an
// authenticator app, a recovery code (a variant of the page, reached by a
// link: no script needed), or a passkey (a button the passkey script un-hides:
// without script it stays hidden and the page says why).

/** The answer to a wrong TOTP or recovery code: the same words for both, and for a code that was already used. */
export const WRONG_CODE_MESSAGE = 'That code is not right.';

/** Longest code the field takes: TOTP codes are 6 digits, recovery codes a few groups; the rest is not a code. */
export const MAX_CODE_LENGTH = 64;

export type SecondFactorVariant = 'code' | 'recovery-code';

export interface SecondFactorPageOptions {
  /** /interaction/<uid>: the page itself; its variants add ?with= */
  base: string;
  csrfToken: string;
  clientName: string;
  variant: SecondFactorVariant;
  /** what the account has: TOTP (a code field, and recovery codes) and/or passkeys */
  totp: boolean;
  passkeys: boolean;
  error?: string;
  requestId: string;
}

function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${token}">`;
}

/**
 * The contract with the passkey script: a hidden button carrying where its
 * options come from and where the assertion goes, inside a form that holds
 * the CSRF token. The script un-hides it when the browser offers WebAuthn.
 */
function passkeyOption(base: string, csrfToken: string, alone: boolean): SafeHtml {
  return html`<form method="post" action="${base}/passkey">
${csrfField(csrfToken)}
<div class="actions">
<button type="button" id="use-passkey"${alone ? '' : html` class="secondary"`} hidden data-options="${base}/passkey/options" data-action="${base}/passkey">Use a passkey</button>
</div>
</form>
<noscript><p class="muted">Using a passkey needs JavaScript in this browser.</p></noscript>
${passkeyScript()}`;
}

function codeForm(base: string, csrfToken: string, variant: SecondFactorVariant): SafeHtml {
  const recovery = variant === 'recovery-code';
  const field = recovery
    ? html`<label for="recovery-code">Recovery code</label>
<input type="text" id="recovery-code" name="code" autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="${MAX_CODE_LENGTH}" required autofocus>`
    : html`<label for="code">Code</label>
<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" autocapitalize="none" spellcheck="false" maxlength="${MAX_CODE_LENGTH}" required autofocus>`;
  return html`<form method="post" action="${base}/second-factor">
${csrfField(csrfToken)}
${recovery ? html`<input type="hidden" name="with" value="recovery-code">` : ''}
<div class="field">
${field}
</div>
<div class="actions">
<button type="submit">Verify</button>
</div>
</form>`;
}

export function secondFactorPage(options: SecondFactorPageOptions): string {
  const { base, csrfToken, clientName, totp, passkeys, error, requestId } = options;
  // a recovery code exists only beside TOTP
  const variant: SecondFactorVariant = totp ? options.variant : 'code';
  const recovery = variant === 'recovery-code';
  const lead = !totp
    ? html`Use your passkey to continue to <strong>${clientName}</strong>.`
    : recovery
      ? html`Enter one of the recovery codes you saved when you set up two-step verification. Each code works once.`
      : html`Enter the code from your authenticator app to continue to <strong>${clientName}</strong>.`;
  const otherWay = recovery
    ? html`<a href="${base}">Use a code from your authenticator app</a>`
    : html`<a href="${`${base}?with=recovery-code`}">Use a recovery code</a>`;
  const body = html`<h1>Two-step verification</h1>
<p class="lead">${lead}</p>
${error ? html`<p class="alert" role="alert">${error}</p>` : ''}
${totp ? html`${codeForm(base, csrfToken, variant)}
<section aria-labelledby="other-ways">
<h2 id="other-ways">Other ways to verify</h2>
<p>${otherWay}</p>
${passkeys ? passkeyOption(base, csrfToken, false) : ''}
</section>` : passkeys ? passkeyOption(base, csrfToken, true) : ''}`;
  return layout({ title: 'Two-step verification', body, requestId });
}
