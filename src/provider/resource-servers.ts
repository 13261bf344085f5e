import type { Client, KoaContextWithOIDC, ResourceServer as ProviderResourceServer } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { ResourceServerRepository } from '../clients/index.ts';

export const ADMIN_SCOPE = 'admin';
export const adminResourceOf = (issuer: string) => `${issuer}/admin`;

/** Scopes of `offered` that the client's allow-list permits (no list: all). */
export function allowedScopes(offered: string[], client: Client): string[] {
  const allowed = (client as unknown as { allowed_scopes?: string[] }).allowed_scopes;
  if (!Array.isArray(allowed)) return offered;
  const allowList = new Set(allowed);
  return offered.filter((scope) => allowList.has(scope));
}

const JWT_SIGNING = { sign: { alg: 'ES256' as const } };

/**
 * RFC 8707 resource indicators: each resource server is an audience with its
 * own scopes, token format and lifetime. The admin API is a built-in one.
 */
export function resourceIndicatorsConfiguration(deps: { issuer: string; resources: ResourceServerRepository; adminTokenTtl: number }) {
  const adminResource = adminResourceOf(deps.issuer);

  async function getResourceServerInfo(ctx: KoaContextWithOIDC, indicator: string, client: Client): Promise<ProviderResourceServer> {
    if (indicator === adminResource) {
      // Admin power belongs to a machine credential, never to a person's session
      // or password: only client_credentials may carry the admin scope.
      const byClientCredentials = ctx.oidc?.params?.grant_type === 'client_credentials';
      return {
        scope: byClientCredentials ? allowedScopes([ADMIN_SCOPE], client).join(' ') : '',
        audience: adminResource,
        accessTokenFormat: 'jwt',
        accessTokenTTL: deps.adminTokenTtl,
        jwt: JWT_SIGNING,
      };
    }
    const server = await deps.resources.find(indicator);
    if (!server) throw new errors.InvalidTarget('unknown resource server');
    return {
      scope: allowedScopes(server.scopes, client).join(' '),
      audience: server.identifier,
      accessTokenFormat: server.tokenFormat,
      accessTokenTTL: server.accessTokenTtl,
      ...(server.tokenFormat === 'jwt' ? { jwt: JWT_SIGNING } : {}),
    };
  }

  return {
    enabled: true,
    defaultResource: async () => undefined,
    // refresh and code exchanges without a resource parameter keep the granted one
    useGrantedResource: async () => true,
    getResourceServerInfo,
  };
}
