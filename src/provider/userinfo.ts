import type { ProviderStep } from './pipeline.ts';
import { honouredByItsClient } from './introspection.ts';

/**
 * The provider's userinfo endpoint checks that an access token's client
 * exists, not that the token is younger than the client's current secret
 * (tokens_not_before): an opaque token issued with a replaced secret would
 * still read the user's claims there. So its answer is replaced by the
 * provider's own refusal of an invalid token when the token is too old, as
 * introspection and the admin API refuse it (honouredByItsClient).
 */
export function refuseUserinfoForTokensOlderThanTheirClient(): ProviderStep {
  return {
    name: 'userinfo refuses tokens older than their client\'s current secret',
    middleware: async (ctx, next) => {
      await next();
      const { oidc } = ctx;
      if (oidc?.route !== 'userinfo' || ctx.status !== 200) return;
      const { AccessToken: token, Client: client } = oidc.entities;
      if (!token || !client || await honouredByItsClient(oidc.provider, token, client)) return;
      ctx.status = 401;
      ctx.set('WWW-Authenticate', `Bearer realm="${oidc.provider.issuer}", error="invalid_token", error_description="invalid token provided"`);
      ctx.body = { error: 'invalid_token', error_description: 'invalid token provided' };
    },
  };
}
