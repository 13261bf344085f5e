import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import { logoutPage, loggedOutPage } from '../../views/logout.ts';
import { errorPage } from '../../views/error.ts';
import { pageRequestId } from './page-errors.ts';

// Pages that oidc-provider renders itself, in Tessera's look (wired in the
// provider configuration: renderError and features.rpInitiatedLogout).

function clientDisplayName(ctx: KoaContextWithOIDC): string | undefined {
  const client = ctx.oidc?.client;
  return client ? client.clientName || client.clientId : undefined;
}

/** Requests whose post_logout_redirect_uri was dropped as unregistered (src/provider/post-logout-redirect.ts). */
const unregisteredReturns = new WeakSet<object>();

/** The logout page of this request says that the person will not be sent back to the client. */
export function noteUnregisteredPostLogoutRedirect(ctx: object): void {
  unregisteredReturns.add(ctx);
}

/** `features.rpInitiatedLogout.logoutSource` */
export async function renderLogoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'html';
  ctx.body = logoutPage({ form, clientName: clientDisplayName(ctx), unregisteredReturn: unregisteredReturns.has(ctx), requestId: pageRequestId(ctx) });
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
