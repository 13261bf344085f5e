import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../observability/index.ts';
import { renderClientErrorPage } from '../interactions/index.ts';
import type { ProviderStep } from './pipeline.ts';
import { isSelfRegistered } from './self-registered.ts';

/** what the provider's authorization error handler emits, as far as this step reads it */
interface AnsweredError { message?: string; error_description?: string; scope?: string; expose?: boolean; allow_redirect?: boolean }

/** how much of a client id the log line keeps (a metadata document's URL is the client's own choice) */
const LOGGED_ID_LENGTH = 200;

/** a link a person clicks must not run script (the CSP would stop it too; this page does not rely on that) */
const SCRIPT_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:']);

const stringParam = (value: unknown) => (typeof value === 'string' && value ? value : undefined);

/**
 * RFC 9700 §4.11.2: an authorization server that redirects an error to a
 * client's redirect_uri at once is an open redirector for whoever can
 * register a client. With open dynamic registration (or client ID metadata
 * documents) that is anyone: register https://phishing.example/callback,
 * then send people to /auth?client_id=<it>&redirect_uri=<it>&scope=<nothing
 * Tessera grants> (or prompt=none without a session) and the browser lands
 * on the phishing page, sent by Tessera's own address, without the person
 * doing anything.
 *
 * For a client nobody registered by hand, an error the authorization
 * endpoint itself answers (before any sign-in or consent page) is shown as a
 * Tessera page that names the redirect URI's host and the error, with an
 * explicit "Continue to <host>" ("inform the user", §4.11.2). The answer the
 * client would have received is behind that link or button, unchanged, so a
 * legitimate client still learns what went wrong.
 *
 * Not covered, on purpose:
 * - clients an admin registered: an admin vouched for their redirect URIs,
 *   and their errors stay standard redirects (prompt=none silent sign-in among them);
 * - errors after the person interacted (route `resume`: "Deny" on the consent
 *   page, say): the person chose to go back to the client;
 * - prompt=none for self-registered clients is NOT kept as a redirect: the
 *   redirect target is what makes the open redirector, not the error code, and
 *   prompt=none without a session is the simplest way to trigger one. A
 *   self-registered client's silent sign-in that fails ends on this page; one
 *   that succeeds (a session and a grant) is a code redirect as before.
 *
 * How the provider answers is read from its own decision: the last
 * `authorization.error` / `server_error` event of the request and the same
 * conditions its error handler redirects on (a client, a registered
 * redirect_uri, an error that allows redirecting). Errors it shows as its
 * own page (an unknown client, a redirect_uri not registered) are left alone.
 */
export function showAuthorizationErrorsOfSelfRegisteredClients(deps: { logger: Pick<Logger, 'info'> }): ProviderStep {
  const answered = new WeakMap<object, AnsweredError>();
  const remember = (ctx: unknown, error: unknown) => {
    if (ctx && typeof ctx === 'object' && error && typeof error === 'object') answered.set(ctx, error as AnsweredError);
  };
  return {
    name: 'an authorization error for a self-registered client is a page with a link, not a redirect (RFC 9700 §4.11.2)',
    listen: (provider) => {
      provider.on('authorization.error', remember);
      provider.on('server_error', remember);
    },
    middleware: async (ctx, next) => {
      await next();
      const error = answered.get(ctx);
      if (!error || ctx.oidc?.route !== 'authorization') return;
      const { client } = ctx.oidc;
      if (!client || !isSelfRegistered(client) || !error.allow_redirect) return;
      // as the provider's error handler reads them: the resolved parameters (a pushed request's or a
      // request object's redirect_uri included) when it got that far, else the raw query or body
      const params = (ctx.oidc.params ?? (ctx.method === 'POST' ? ctx.oidc.body : ctx.query) ?? {}) as Record<string, unknown>;
      const redirectUri = stringParam(params.redirect_uri);
      if (!redirectUri || !client.redirectUriAllowed(redirectUri)) return;

      const target = new URL(redirectUri);
      const location = ctx.status === 303 ? ctx.response.get('Location') : '';
      const continueTo = SCRIPT_SCHEMES.has(target.protocol) ? undefined
        : location ? { href: location }
        // form_post (the only other response mode on): the same fields the provider's form posts
          : { action: redirectUri, fields: formPostFields(ctx, error, stringParam(params.state)) };
      const code = error.expose ? error.message ?? 'server_error' : 'server_error';
      renderClientErrorPage(ctx as KoaContextWithOIDC, {
        // a native app's private-use scheme (com.example.app:/callback) has no host: the scheme names it
        host: target.host || target.protocol.slice(0, -1),
        error: code,
        errorDescription: error.expose ? error.error_description : undefined,
        continueTo,
      });
      deps.logger.info(
        { clientId: client.clientId.slice(0, LOGGED_ID_LENGTH), error: code },
        'an authorization error for a client that registered itself was shown as a page with a link to the client instead of a redirect (RFC 9700 §4.11.2)',
      );
    },
  };
}

/** oidc-provider's error answer (helpers/err_out.js) with its `iss` (RFC 9207), as form_post sends it */
function formPostFields(ctx: { oidc: { provider: { issuer: string } } }, error: AnsweredError, state: string | undefined): Record<string, string> {
  const fields: Record<string, string> = error.expose
    ? {
      error: error.message ?? 'server_error',
      ...(error.error_description !== undefined ? { error_description: error.error_description } : {}),
      ...(error.scope !== undefined ? { scope: error.scope } : {}),
    }
    : { error: 'server_error', error_description: 'oops! something went wrong' };
  if (state !== undefined) fields.state = state;
  fields.iss = ctx.oidc.provider.issuer;
  return fields;
}
