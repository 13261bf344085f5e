import { html } from './html.ts';
import { layout } from './layout.ts';

export interface ClientErrorPageOptions {
  /** the host of the client's redirect_uri: where "Continue" goes */
  host: string;
  /** the OAuth error code the client would have received (RFC 6749 §4.1.2.1) */
  error: string;
  errorDescription?: string;
  /** how the answer reaches the client: a link (query or fragment response mode) or a form (form_post) */
  continueTo?: { href: string } | { action: string; fields: Record<string, string> };
  requestId: string;
}

/**
 * RFC 9700 §4.11.2: an authorization error for a client nobody registered by
 * hand is not redirected at once (that would make Tessera an open redirector
 * to whatever URI such a client registered); the person is told, and goes on
 * to the client only by choosing to.
 */
export function clientErrorPage({ host, error, errorDescription, continueTo, requestId }: ClientErrorPageOptions): string {
  const title = `${host} asked for something Tessera could not do`;
  const label = `Continue to ${host}`;
  const body = html`<h1>${title}</h1>
<p class="lead">The answer Tessera has for it: <code>${error}</code>${errorDescription ? html` (${errorDescription})` : ''}.</p>
<p class="notice">This application registered itself; Tessera has not checked who runs it. Continue only if you meant to use <strong>${host}</strong>.</p>
<div class="actions">
${!continueTo ? html`<p class="muted">Tessera does not send you to an address of this kind. Close this window.</p>`
    : 'href' in continueTo
    ? html`<a href="${continueTo.href}" rel="noreferrer">${label}</a>`
    : html`<form method="post" action="${continueTo.action}">${Object.entries(continueTo.fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}<button type="submit">${label}</button></form>`}
</div>`;
  return layout({ title, body, requestId });
}
