import { html, raw } from './html.ts';
import { layout } from './layout.ts';

export interface LogoutPageOptions {
  /** Trusted markup from oidc-provider's logoutSource: `<form id="op.logoutForm">` with its xsrf input. */
  form: string;
  clientName?: string;
  /**
   * The client asked to be returned to a post_logout_redirect_uri it has not
   * registered: the person stays on Tessera after signing out (said here, so
   * the missing return is not a surprise).
   */
  unregisteredReturn?: boolean;
  /**
   * A client that registered itself asked to return the person without an
   * id_token_hint (nothing confirms the address is its own to use): the
   * person stays on Tessera.
   */
  unconfirmedReturn?: boolean;
  requestId: string;
}

/**
 * The confirmation of RP-initiated logout. It is the defence against logout
 * CSRF: a link to /session/end (no id_token_hint needed) signs nobody out
 * until the person presses "Sign out". "Stay signed in" is a plain GET to
 * /account that changes nothing: submitting the provider's form without
 * `logout` would still end the asking client's part of the session and
 * revoke its grant, which a person who chose to stay does not expect.
 */
export function logoutPage({ form, clientName, unregisteredReturn, unconfirmedReturn, requestId }: LogoutPageOptions): string {
  const body = html`<h1>${clientName ? html`Sign out of ${clientName}?` : 'Sign out?'}</h1>
${clientName ? html`<p class="lead"><strong>${clientName}</strong> asked to sign you out.</p>` : ''}
<p>You will be signed out of Tessera on this device, and of the applications you signed in to with it here.</p>
${unregisteredReturn ? html`<p class="notice">${clientName ?? 'The application'} gave a return address it has not registered, so you will stay here after signing out.</p>` : ''}
${unconfirmedReturn ? html`<p class="notice">${clientName ?? 'The application'} registered itself and did not show that you signed in to it, so you will stay here after signing out.</p>` : ''}
${raw(form)}
<div class="actions">
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out</button>
<form method="get" action="/account"><button type="submit" class="secondary">Stay signed in</button></form>
</div>`;
  return layout({ title: 'Sign out', body, requestId });
}

export interface LoggedOutPageOptions {
  clientName?: string;
  requestId: string;
}

export function loggedOutPage({ clientName, requestId }: LoggedOutPageOptions): string {
  const body = html`<h1>You are signed out</h1>
${clientName
    ? html`<p>You have signed out of <strong>${clientName}</strong> and Tessera on this device.</p>`
    : html`<p>You have signed out of Tessera on this device.</p>`}
<p class="muted">You can close this window.</p>`;
  return layout({ title: 'Signed out', body, requestId });
}
