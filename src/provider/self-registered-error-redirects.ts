import type { KoaContextWithOIDC } from 'oidc-provider';
import { unsentErrorPage } from '../../views/error.ts';
import { pageRequestId } from '../interactions/index.ts';
import { isRegisteredByNobody } from '../clients/index.ts';
import type { ProviderStep } from './pipeline.ts';

/*
 * RFC 9700 §4.11.2: an authorization server that sends a browser on to any
 * redirect URI a stranger registered is an open redirector under its own name.
 * With registration open (or tokens handed out), anyone registers
 * https://phish.example/ (or publishes a client ID metadata document naming
 * it) and links to /auth?client_id=…&prompt=none: the
 * provider answers the error (login_required, invalid_scope, a missing PKCE
 * challenge) by a 303 to that URI, before the person saw any page. For a
 * client nobody registered by hand, such an error is shown on Tessera's page
 * instead, naming where the answer would have gone, with a link the person may
 * follow. Errors after the person saw the sign-in or consent pages (the resume
 * route: Deny, for one) still go to the client, as do codes.
 */

interface RedirectableError { error?: unknown; allow_redirect?: unknown }

export function noErrorRedirectsToSelfRegisteredClients(): ProviderStep {
  return {
    name: 'an authorization error for a client that registered itself is a page, not a redirect (RFC 9700 §4.11.2)',
    // the provider's error handler emits the error it is about to answer (the last one, when a bad redirect_uri replaces it)
    listen: (provider) => provider.on('authorization.error', (ctx: KoaContextWithOIDC, error: RedirectableError) => {
      if (ctx?.oidc?.route === 'authorization') ctx.state.authorizationError = error;
    }),
    async middleware(ctx, next) {
      await next();
      const error = ctx.state.authorizationError as RedirectableError | undefined;
      if (!error || ctx.oidc?.route !== 'authorization' || error.allow_redirect !== true) return;
      const client = ctx.oidc.client;
      const redirectUri = ctx.oidc.params?.redirect_uri;
      // the provider's own condition for answering at the redirect URI (shared/authorization_error_handler.js)
      if (!client || !isRegisteredByNobody(client) || typeof redirectUri !== 'string' || !redirectUri) return;
      // query and fragment modes answer with a Location the person may choose to follow; form_post with a form (no link)
      const location = ctx.status === 303 || ctx.status === 302 ? ctx.response.get('Location') : '';
      const target = URL.parse(redirectUri);
      ctx.remove('Location');
      ctx.status = 400;
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'html';
      ctx.body = unsentErrorPage({
        clientName: client.clientName || client.clientId,
        error: typeof error.error === 'string' ? error.error : 'invalid_request',
        continueTo: location.startsWith(redirectUri) && target ? { href: location, host: target.host || target.protocol.slice(0, -1) } : undefined,
        requestId: pageRequestId(ctx),
      });
    },
  };
}
