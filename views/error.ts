import { html } from './html.ts';
import { layout } from './layout.ts';

export interface ErrorPageOptions {
  title: string;
  message: string;
  requestId: string;
}

export function errorPage({ title, message, requestId }: ErrorPageOptions): string {
  const body = html`<h1>${title}</h1>
<p>${message}</p>
<p class="muted">If this keeps happening, contact support and quote the request ID shown below.</p>`;
  return layout({ title, body, requestId });
}

export interface UnsentErrorPageOptions {
  clientName: string;
  /** the OAuth error code the application would have been sent */
  error: string;
  /** the answer as the application would have received it, and its host */
  continueTo?: { href: string; host: string };
  requestId: string;
}

/**
 * An authorization error for an application nobody registered by hand: shown
 * here rather than sent on, since anyone can register a redirect address
 * (RFC 9700 §4.11.2). The person decides whether to go on.
 */
export function unsentErrorPage({ clientName, error, continueTo, requestId }: UnsentErrorPageOptions): string {
  const title = 'The request could not be completed';
  const body = html`<h1>${title}</h1>
<p><strong>${clientName}</strong> sent a sign-in request that could not be completed (<code>${error}</code>).</p>
<p class="notice">No administrator registered this application here (it registered itself, or is known only by its own address), so you were not sent on to it automatically.</p>
${continueTo ? html`<p>Continue only if you came from <strong>${continueTo.host}</strong> and trust it.</p>
<p><a href="${continueTo.href}" rel="noreferrer">Return to ${continueTo.host}</a></p>` : ''}`;
  return layout({ title, body, requestId });
}
