import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import { logoutPage, loggedOutPage } from '../../views/logout.ts';
import { errorPage } from '../../views/error.ts';
import { pageRequestId } from './page-errors.ts';
import { clientIdHost } from '../clients/index.ts';

// Pages that oidc-provider renders itself, in Tessera's look (wired in the
// provider configuration: renderError and features.rpInitiatedLogout).

function clientDisplayName(ctx: KoaContextWithOIDC): string | undefined {
  const client = ctx.oidc?.client;
  if (!client) return undefined;
  // a client ID metadata document's name is the client's own claim: its URL's host goes with it
  const host = clientIdHost(client.clientId);
  if (host) return client.clientName ? `${client.clientName} (${host})` : host;
  return client.clientName || client.clientId;
}

/**
 * Requests whose post_logout_redirect_uri was dropped (src/provider/post-logout-redirect.ts):
 * not registered by the client, or named by a self-registered client without an id_token_hint.
 */
const droppedReturns = new WeakMap<object, 'unregistered' | 'unconfirmed'>();

/** The logout page of this request says that the person will not be sent back to the client, and why. */
export function noteUnregisteredPostLogoutRedirect(ctx: object, reason: 'unregistered' | 'unconfirmed' = 'unregistered'): void {
  droppedReturns.set(ctx, reason);
}

/** `features.rpInitiatedLogout.logoutSource` */
export async function renderLogoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'html';
  const dropped = droppedReturns.get(ctx);
  ctx.body = logoutPage({
    form, clientName: clientDisplayName(ctx), unregisteredReturn: dropped === 'unregistered', unconfirmedReturn: dropped === 'unconfirmed', requestId: pageRequestId(ctx),
  });
}

/** `features.rpInitiatedLogout.postLogoutSuccessSource` */
export async function renderPostLogoutSuccess(ctx: KoaContextWithOIDC): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'html';
  ctx.body = loggedOutPage({ clientName: clientDisplayName(ctx), requestId: pageRequestId(ctx) });
}

/** `renderError`: oidc-provider has already set ctx.status; `out` is the public error only. */
export async function renderProviderError(ctx: KoaContextWithOIDC, out: ErrorOut, _error: Error): Promise<void> {
  const serverSide = out.error === 'server_error' || ctx.status >= 500;
  let message = out.error_description || 'Go back to the application you came from and try again.';
  if (serverSide) message = 'Something went wrong on our side. Try again in a moment.';
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'html';
  ctx.body = errorPage({
    title: serverSide ? 'Something went wrong' : 'The request could not be completed',
    message,
    requestId: pageRequestId(ctx),
  });
}
