import type { Client, KoaContextWithOIDC, ResourceServer as ProviderResourceServer } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { ResourceServerRepository } from '../clients/index.ts';
import { ADMIN_SCOPE, allowedScopes, isClientIdUrl, isRegisteredByNobody } from '../clients/index.ts';
import { adminResourceOf } from '../config/index.ts';

export { ADMIN_SCOPE, allowedScopes, adminResourceOf };

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
      // or password: only client_credentials may carry the admin scope, and
      // only for a client whose allow-list names it.
      const byClientCredentials = ctx.oidc?.params?.grant_type === 'client_credentials';
      const scope = byClientCredentials ? allowedScopes([ADMIN_SCOPE], client).join(' ') : '';
      if (!scope) throw new errors.InvalidTarget('the client may not obtain tokens for this resource');
      return {
        scope,
        audience: adminResource,
        accessTokenFormat: 'jwt',
        accessTokenTTL: deps.adminTokenTtl,
        jwt: JWT_SIGNING,
      };
    }
    const server = await deps.resources.find(indicator);
    if (!server) throw new errors.InvalidTarget('unknown resource server');
    // a client nobody registered by hand gets tokens only for resource servers open to such clients
    // (absent: none), whatever its allow-list says (another resource may declare the same scope names)
    if (isRegisteredByNobody(client) && !server.dynamicClients) throw new errors.InvalidTarget('the client may not obtain tokens for this resource');
    // `admin` names the admin API's scope wherever it appears in an allow-list:
    // another resource may not offer it (one stored before it was reserved included)
    const offered = server.scopes.filter((s) => s !== ADMIN_SCOPE);
    // a client ID metadata document's client has no allow-list an admin wrote: the open API's scopes are its offer
    const scope = (isClientIdUrl(client.clientId) ? offered : allowedScopes(offered, client)).join(' ');
    // absent means nothing: no scope of this resource allowed, no token for its audience
    if (!scope) throw new errors.InvalidTarget('the client may not obtain tokens for this resource');
    return {
      scope,
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
