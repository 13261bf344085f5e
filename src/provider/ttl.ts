import type { Configuration } from 'oidc-provider';
import type { TtlConfig } from '../config/index.ts';

type TtlFunction = (ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => number;

/**
 * Every lifetime set explicitly. Access tokens for a resource server live as
 * long as that server asks; the Grant outlives the refresh token because its
 * TTL caps refresh-token life.
 */
export function ttlConfiguration(ttl: TtlConfig): Configuration['ttl'] {
  const accessToken: TtlFunction = (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ttl.accessToken;
  const clientCredentials: TtlFunction = (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ttl.clientCredentials;
  return {
    AccessToken: accessToken as never,
    ClientCredentials: clientCredentials as never,
    AuthorizationCode: ttl.authorizationCode,
    IdToken: ttl.idToken,
    RefreshToken: ttl.refreshToken,
    Grant: Math.max(ttl.grant, ttl.refreshToken),
    Session: ttl.session,
    Interaction: ttl.interaction,
    DeviceCode: 600,
    BackchannelAuthenticationRequest: 600,
  };
}
