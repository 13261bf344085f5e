import { html, raw } from './html.ts';
import { layout } from './layout.ts';

export interface LogoutPageOptions {
  /** Trusted markup from oidc-provider's logoutSource: `<form id="op.logoutForm">` with its xsrf input. */
  form: string;
  clientName?: string;
  requestId: string;
}

export function logoutPage({ form, clientName, requestId }: LogoutPageOptions): string {
  const body = html`<h1>Sign out?</h1>
${clientName ? html`<p class="lead"><strong>${clientName}</strong> asked to sign you out.</p>` : ''}
<p>You will be signed out of Tessera on this device.</p>
${raw(form)}
<div class="actions">
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out</button>
<button type="submit" form="op.logoutForm" class="secondary">Stay signed in</button>
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
