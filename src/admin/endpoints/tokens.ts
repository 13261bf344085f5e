import { reply, type AdminInput, type AdminRoute, type AdminRouterDeps } from '../define.ts';
import { MAX_RESOURCE_TTL } from '../../clients/index.ts';
import { revokeTokenSchema, type RevokeTokenBody } from '../schemas/tokens.ts';

/**
 * JWT access tokens are never stored: revoking one puts its jti on the
 * denylist until it would have expired. When the caller does not know the
 * token's exp, the longest lifetime any access token can have is assumed.
 */
export function tokenRoutes(deps: AdminRouterDeps): AdminRoute[] {
  const { ttl } = deps.config;
  const longestAccessTokenTtl = Math.max(ttl.accessToken, ttl.clientCredentials, MAX_RESOURCE_TTL);

  return [{
    method: 'post', path: '/tokens/revoke', tag: 'tokens', summary: 'Revoke a JWT access token by its jti',
    body: revokeTokenSchema,
    responses: { 200: { description: 'the jti and until when it is denied' } },
    async handle(ctx, { body, actor }: AdminInput<RevokeTokenBody>) {
      const expiresAt = body.exp ?? Math.floor(Date.now() / 1000) + longestAccessTokenTtl;
      await deps.revocation.revokeJwt(body.jti, expiresAt);
      await deps.services.audit.record({ type: 'token.revoked', actor, subject: body.jti, details: { exp: expiresAt, exp_known: body.exp !== undefined } });
      reply(ctx, 200, { jti: body.jti, revoked: true, denied_until: new Date(expiresAt * 1000).toISOString() });
    },
  }];
}
