import type Provider from 'oidc-provider';
import { decodeJwt } from 'jose';
import type { Logger } from '../observability/index.ts';
import { isRegisteredByNobody } from '../clients/index.ts';
import { noteUnregisteredPostLogoutRedirect } from '../interactions/index.ts';
import type { ProviderStep } from './pipeline.ts';

/** how much of a refused URI the log line keeps: enough to recognise it, not a place to store data */
const LOGGED_URI_LENGTH = 200;

/** The client a logout request names: the id_token_hint's audience (not yet verified: the provider does that), else client_id. */
function namedClientId(params: URLSearchParams): string | undefined {
  const hints = params.getAll('id_token_hint');
  if (hints.length > 1) return undefined; // the provider refuses duplicates itself
  if (hints.length === 1) {
    try {
      const { aud } = decodeJwt(hints[0]);
      return typeof aud === 'string' ? aud : undefined;
    } catch {
      return undefined; // not a JWT: the provider refuses it ("could not decode id_token_hint")
    }
  }
  const ids = params.getAll('client_id');
  return ids.length === 1 ? ids[0] : undefined;
}

/**
 * OpenID Connect RP-Initiated Logout 1.0 §3: a post_logout_redirect_uri that
 * is not exactly one the client registered is never redirected to.
 * oidc-provider keeps that rule by refusing the whole request with an error
 * page, so the person who asked to sign out is still signed in and does not
 * know it. Tessera drops the unregistered URI instead and lets the logout go
 * on: the confirmation page says the person will stay here, and after
 * "Sign out" they get the signed-out page. The client is named in a warn line,
 * where its developer looks. The exact-match check itself is still the
 * provider's (`postLogoutRedirectUriAllowed`); a request whose client or hint
 * the provider refuses is left for it to refuse.
 *
 * /session/end takes GET only (routes.ts), so the query is all there is.
 */
export function dropUnregisteredPostLogoutRedirects(deps: { provider: Provider; logger: Pick<Logger, 'warn'> }): ProviderStep {
  const endSessionPath = deps.provider.pathFor('end_session').replace(/\/+$/, '').toLowerCase();
  return {
    name: 'a post_logout_redirect_uri the client has not registered is dropped: signed out without the redirect',
    // not async: every other request passes on without an await frame (the hot paths do)
    middleware: (ctx, next) => (isEndSession(ctx) ? dropUnregistered(ctx, next) : next()),
  };
  function isEndSession(ctx: { method: string; path: string }): boolean {
    return (ctx.method === 'GET' || ctx.method === 'HEAD') && ctx.path.replace(/\/+$/, '').toLowerCase() === endSessionPath;
  }
  async function dropUnregistered(ctx: Parameters<ProviderStep['middleware']>[0], next: () => Promise<void>): Promise<void> {
    const params = new URLSearchParams(ctx.querystring);
    const uris = params.getAll('post_logout_redirect_uri');
    const clientId = uris.length === 1 ? namedClientId(params) : undefined;
    if (clientId) {
      const client = await deps.provider.Client.find(clientId).catch(() => undefined);
      if (client && !client.postLogoutRedirectUriAllowed(uris[0])) {
        params.delete('post_logout_redirect_uri');
        ctx.querystring = params.toString();
        noteUnregisteredPostLogoutRedirect(ctx);
        deps.logger.warn(
          { clientId, postLogoutRedirectUri: uris[0].slice(0, LOGGED_URI_LENGTH) },
          `RP-initiated logout of client ${clientId} named a post_logout_redirect_uri it has not registered: the person is not sent there (register it with clients update --post-logout-redirect-uris)`,
        );
      } else if (client && isRegisteredByNobody(client) && !params.has('id_token_hint')) {
        // RP-Initiated Logout 1.0 §3: without an id_token_hint the OP redirects only when it has
        // other means of confirming the target is legitimate. An admin registering the client is
        // such a means; a client that registered itself is not: anyone could register
        // https://phishing.example and send people through /session/end to it (a browser
        // without a session is not even asked).
        params.delete('post_logout_redirect_uri');
        ctx.querystring = params.toString();
        noteUnregisteredPostLogoutRedirect(ctx, 'unconfirmed');
        deps.logger.warn(
          { clientId, postLogoutRedirectUri: uris[0].slice(0, LOGGED_URI_LENGTH) },
          `RP-initiated logout of client ${clientId}, which registered itself, named a post_logout_redirect_uri without an id_token_hint: the person is not sent there`,
        );
      }
    }
    await next();
  }
}
