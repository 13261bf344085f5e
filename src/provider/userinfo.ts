import type { default as Provider, KoaContextWithOIDC } from 'oidc-provider';
import { honouredByItsClient } from './introspection.ts';

/**
 * The provider's userinfo endpoint checks that an access token's client
 * exists, not that the token is younger than the client's current secret
 * (tokens_not_before): an opaque token issued with a replaced secret would
 * still read the user's claims there. So its answer is replaced by the
 * provider's own refusal of an invalid token when the token is too old, as
 * introspection and the admin API refuse it (honouredByItsClient).
 */
export function refuseUserinfoForTokensOlderThanTheirClient(provider: Provider): void {
  provider.use(async (ctx, next) => {
    await next();
    const oidc = (ctx as KoaContextWithOIDC).oidc;
    if (oidc?.route !== 'userinfo' || ctx.status !== 200) return;
    const { AccessToken: token, Client: client } = oidc.entities;
    if (!token || !client || await honouredByItsClient(provider, token, client)) return;
    ctx.status = 401;
    ctx.set('WWW-Authenticate', `Bearer realm="${provider.issuer}", error="invalid_token", error_description="invalid token provided"`);
    ctx.body = { error: 'invalid_token', error_description: 'invalid token provided' };
  });
}
