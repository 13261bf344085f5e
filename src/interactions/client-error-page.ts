import type { KoaContextWithOIDC } from 'oidc-provider';
import { clientErrorPage, type ClientErrorPageOptions } from '../../views/client-error.ts';
import { pageRequestId } from './page-errors.ts';

/**
 * Answers with the page that stands in for an authorization error redirect
 * (src/provider/self-registered-errors.ts). 400: the request failed; the
 * answer is never stored, and no Location is left from the redirect it replaces.
 */
export function renderClientErrorPage(ctx: KoaContextWithOIDC, options: Omit<ClientErrorPageOptions, 'requestId'>): void {
  ctx.remove('Location');
  ctx.status = 400;
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'html';
  ctx.body = clientErrorPage({ ...options, requestId: pageRequestId(ctx) });
}
