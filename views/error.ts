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
