import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';
import { twoStepSection, type TwoStepSummary } from './two-step.ts';
import { passkeySection, type PasskeySectionData } from './passkeys.ts';

// The person's own page (/account) and the pages of a password reset link.
// Every control has an accessible name that says what it does and to what:
// the visible word ("Revoke", "Sign out") begins the name, so it is also
// what speech input users say.

export interface ConnectedApp {
  grantId: string;
  clientName: string;
  /** what the app may do, in words, with the scope names */
  scopes: Array<{ name: string; description: string }>;
}

export interface SessionEntry {
  id: string;
  description: string;
  ip: string | null;
  createdAt: Date;
  lastActiveAt: Date | null;
  current: boolean;
}

export interface AccountPageOptions {
  username: string;
  csrfToken: string;
  apps: ConnectedApp[];
  sessions: SessionEntry[];
  /** a message after an action (POST-redirect-GET), from a fixed list */
  notice?: string;
  /** what is wrong with the password form, shown beside it */
  passwordError?: string;
  /** two-step verification: what is on (absent: the section is not shown) */
  twoStep?: TwoStepSummary;
  requestId: string;
  /** the Passkeys section (absent: none) */
  passkeys?: PasskeySectionData;
}

const when = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${token}">`;
}

function appList(apps: ConnectedApp[], csrf: SafeHtml): SafeHtml {
  if (apps.length === 0) return html`<p class="muted">No application has access to your account.</p>`;
  return html`<ul class="items">${apps.map((app) => html`<li>
<h3>${app.clientName}</h3>
${app.scopes.length > 0
    ? html`<ul class="scopes">${app.scopes.map((s) => html`<li>${s.description}<code>${s.name}</code></li>`)}</ul>`
    : html`<p class="muted">Signed in with your account.</p>`}
<form method="post" action="/account/apps/revoke">${csrf}<input type="hidden" name="grant" value="${app.grantId}">
<button type="submit" class="secondary" aria-label="${`Revoke access of ${app.clientName}`}">Revoke</button></form>
</li>`)}</ul>`;
}

function sessionList(sessions: SessionEntry[], csrf: SafeHtml): SafeHtml {
  if (sessions.length === 0) return html`<p class="muted">No other sign-in is known.</p>`;
  return html`<ul class="items">${sessions.map((s) => html`<li>
<h3>${s.description}${s.current ? html` <span class="tag">this device</span>` : ''}</h3>
<p class="muted">Signed in ${when(s.createdAt)}${s.ip ? html` from ${s.ip}` : ''}${s.lastActiveAt ? html`, last active ${when(s.lastActiveAt)}` : ''}</p>
<form method="post" action="/account/sessions/end">${csrf}<input type="hidden" name="session" value="${s.id}">
<button type="submit" class="secondary" aria-label="${s.current ? 'Sign out on this device' : `Sign out ${s.description}, signed in ${when(s.createdAt)}`}">Sign out</button></form>
</li>`)}</ul>`;
}

export function accountPage(options: AccountPageOptions): string {
  const { username, apps, sessions, notice, passwordError, requestId } = options;
  const csrf = csrfField(options.csrfToken);
  const body = html`<h1>Your account</h1>
<p class="lead">Signed in as <strong>${username}</strong></p>
${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
<section aria-labelledby="apps-heading">
<h2 id="apps-heading">Connected apps</h2>
<p class="muted">Applications you allowed to use your account. Revoking one signs it out and takes its access away.</p>
${appList(apps, csrf)}
</section>
<section aria-labelledby="sessions-heading">
<h2 id="sessions-heading">Signed-in sessions</h2>
${sessionList(sessions, csrf)}
<form method="post" action="/account/sessions/end-all">${csrf}<button type="submit" class="secondary">Sign out everywhere</button></form>
</section>
${twoStepSection(options.twoStep, options.csrfToken)}
${passkeySection(options.passkeys, csrf)}
<section aria-labelledby="password-heading">
<h2 id="password-heading">Change password</h2>
<p class="muted">Changing it signs you out everywhere else and takes away every application's access.</p>
${passwordError ? html`<p class="alert" role="alert" id="password-error">${passwordError}</p>` : ''}
<form method="post" action="/account/password">${csrf}
<div class="field">
<label for="current-password">Current password</label>
<input type="password" id="current-password" name="current_password" autocomplete="current-password" required${passwordError ? html` aria-describedby="password-error"` : ''}>
</div>
<div class="field">
<label for="new-password">New password</label>
<input type="password" id="new-password" name="new_password" autocomplete="new-password" minlength="8" maxlength="1024" required>
</div>
<div class="field">
<label for="repeat-password">Repeat new password</label>
<input type="password" id="repeat-password" name="repeat_password" autocomplete="new-password" minlength="8" maxlength="1024" required>
</div>
<button type="submit">Change password</button>
</form>
</section>
<section aria-labelledby="signout-heading">
<h2 id="signout-heading" class="visually-hidden">Sign out</h2>
<form method="post" action="/account/sign-out">${csrf}<button type="submit" class="secondary">Sign out of your account</button></form>
</section>`;
  return layout({ title: 'Your account', body, requestId });
}

export function signedOutPage(options: { everywhere: boolean; requestId: string }): string {
  const body = html`<h1>You are signed out</h1>
<p>${options.everywhere ? 'You have signed out of Tessera on every device.' : 'You have signed out of Tessera on this device.'}</p>
<p><a href="/account">Sign in to your account</a></p>`;
  return layout({ title: 'Signed out', body, requestId: options.requestId });
}

export function resetPasswordPage(options: { action: string; csrfToken: string; username: string; error?: string; requestId: string }): string {
  const body = html`<h1>Choose a new password</h1>
<p class="lead">for <strong>${options.username}</strong></p>
${options.error ? html`<p class="alert" role="alert" id="password-error">${options.error}</p>` : ''}
<form method="post" action="${options.action}">
<input type="hidden" name="csrf" value="${options.csrfToken}">
<input type="text" name="username" value="${options.username}" autocomplete="username" hidden>
<div class="field">
<label for="new-password">New password</label>
<input type="password" id="new-password" name="new_password" autocomplete="new-password" minlength="8" maxlength="1024" required autofocus${options.error ? html` aria-describedby="password-error"` : ''}>
</div>
<div class="field">
<label for="repeat-password">Repeat new password</label>
<input type="password" id="repeat-password" name="repeat_password" autocomplete="new-password" minlength="8" maxlength="1024" required>
</div>
<div class="actions">
<button type="submit">Set new password</button>
</div>
</form>`;
  return layout({ title: 'Choose a new password', body, requestId: options.requestId });
}

/** Unknown, used, replaced and expired links alike: the page tells none of them apart. */
export function resetLinkInvalidPage(requestId: string): string {
  const body = html`<h1>This link does not work</h1>
<p>Password reset links work once, for a short time. Ask your administrator for a new one.</p>`;
  return layout({ title: 'Link not valid', body, requestId });
}

export function passwordResetDonePage(requestId: string): string {
  const body = html`<h1>Your password is changed</h1>
<p>You have been signed out everywhere, and applications need your permission again.</p>
<p><a href="/account">Sign in to your account</a></p>`;
  return layout({ title: 'Password changed', body, requestId });
}
