import { html } from './html.ts';
import { layout } from './layout.ts';
import { passkeySignIn } from './passkeys.ts';

/** One message for unknown user and wrong password, so the page does not reveal which accounts exist. */
export const INCORRECT_CREDENTIALS_MESSAGE = 'Incorrect username or password.';

export function tooManyAttemptsMessage(retryAfterSeconds: number): string {
  return `Too many attempts. Try again in ${retryAfterSeconds} ${retryAfterSeconds === 1 ? 'second' : 'seconds'}.`;
}

export interface LoginPageOptions {
  action: string;
  csrfToken: string;
  clientName: string;
  username?: string;
  error?: string;
  requestId: string;
  /** "Sign in with a passkey" (absent: not offered, e.g. an issuer at an IP address) */
  passkey?: { optionsUrl: string; action: string };
}

export function loginPage({ action, csrfToken, clientName, username, error, requestId, passkey }: LoginPageOptions): string {
  const hasUsername = Boolean(username);
  const body = html`<h1>Sign in</h1>
<p class="lead">to continue to <strong>${clientName}</strong></p>
${error ? html`<p class="alert" role="alert">${error}</p>` : ''}
<form method="post" action="${action}">
<input type="hidden" name="csrf" value="${csrfToken}">
<div class="field">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${username ?? ''}"${hasUsername ? '' : html` autofocus`}>
</div>
<div class="field">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${hasUsername ? html` autofocus` : ''}>
</div>
<div class="actions">
<button type="submit">Sign in</button>
</div>
</form>
${passkey ? passkeySignIn({ csrfToken, ...passkey }) : ''}`;
  return layout({ title: 'Sign in', body, requestId });
}
