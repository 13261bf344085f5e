import { html } from './html.ts';
import { layout } from './layout.ts';

export interface ConsentScope {
  name: string;
  description: string;
}

export interface ConsentResource {
  identifier: string;
  name: string;
  scopes: ConsentScope[];
}

export interface ConsentPageOptions {
  action: string;
  abortAction: string;
  csrfToken: string;
  clientName: string;
  /**
   * A client that named itself with a URL (client ID metadata document): its
   * host, shown instead of the name, which is only the client's own claim.
   */
  clientHost?: string;
  /** the client registered itself (RFC 7591): its name is unchecked; returnTo is where the person goes after answering */
  selfRegistered?: { returnTo?: string };
  scopes: ConsentScope[];
  resources: ConsentResource[];
  /** Individual claims requested beyond those the scopes cover (OIDC `claims` parameter). */
  claims?: string[];
  requestId: string;
}

function scopeList(scopes: ConsentScope[]) {
  return html`<ul class="scopes">${scopes.map(
    (s) => html`<li>${s.description}<code>${s.name}</code></li>`,
  )}</ul>`;
}

/**
 * Anyone may register a client when registration is open, under any name
 * ("Your Bank"): the page says the name is unchecked and where the answer goes.
 */
export function selfRegisteredNotice(returnTo?: string) {
  return html`<p class="notice" role="note">This application registered itself with this server: its name was chosen by whoever registered it and has not been checked.${returnTo ? html` After you answer, you go to <strong>${returnTo}</strong>.` : ''}</p>`;
}

export function consentPage(options: ConsentPageOptions): string {
  const { action, abortAction, csrfToken, clientName, clientHost, selfRegistered, scopes, resources, claims = [], requestId } = options;
  const nothingListed = scopes.length === 0 && resources.length === 0 && claims.length === 0;
  const csrf = html`<input type="hidden" name="csrf" value="${csrfToken}">`;
  const body = html`<h1>Allow access?</h1>
${clientHost
    ? html`<p class="lead">The application at <strong>${clientHost}</strong> is asking for permission to:</p>
<p class="muted">It calls itself “${clientName}”, but this server does not know it: it was not registered here. Continue only if you are using an application from ${clientHost}.</p>`
    : html`<p class="lead"><strong>${clientName}</strong> is asking for permission to:</p>`}
${selfRegistered ? selfRegisteredNotice(selfRegistered.returnTo) : ''}
${nothingListed ? html`<ul class="scopes"><li>Access your account</li></ul>` : ''}
${scopes.length > 0 ? scopeList(scopes) : ''}
${claims.length > 0
    ? html`<h2>Details about you</h2><ul class="scopes">${claims.map((c) => html`<li>${c}</li>`)}</ul>`
    : ''}
${resources.map((r) => html`<h2>${r.name}</h2>
${r.name !== r.identifier ? html`<p class="muted">${r.identifier}</p>` : ''}
${scopeList(r.scopes)}`)}
<p class="muted">Allow only if you trust this application. You can remove its access later on <a href="/account" target="_blank" rel="noopener noreferrer">your account page</a>.</p>
<div class="actions">
<form method="post" action="${action}">${csrf}<button type="submit">Allow</button></form>
<form method="post" action="${abortAction}">${csrf}<button type="submit" class="secondary">Deny</button></form>
</div>`;
  return layout({ title: 'Allow access', body, requestId });
}
