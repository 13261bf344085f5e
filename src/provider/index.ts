import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { KeyMaterial } from '../keys/index.ts';
import type { TokenState } from '../tokens/index.ts';
import type { AccountRepository } from '../accounts/index.ts';
import type { ClientRepository, ResourceServerRepository } from '../clients/index.ts';
import type { Logger } from '../observability/index.ts';
import { renderProviderError } from '../interactions/routes.ts';
import { ttlConfiguration } from './ttl.ts';
import { claimsConfiguration, createFindAccount } from './claims.ts';
import { resourceIndicatorsConfiguration } from './resource-servers.ts';
import { routeAdapters, compareSecretsByDigest } from './client-store.ts';
import { featuresConfiguration, ENABLED_ALGORITHMS, CLIENT_AUTH_METHODS } from './features.ts';
import { loadExistingGrant } from './grants.ts';
import { subscribeToProviderEvents } from './events.ts';
import { translateStoreOutages } from './outage.ts';

export { ADMIN_SCOPE, adminResourceOf, allowedScopes } from './resource-servers.ts';
export { mayIntrospect, audiencesOf } from './introspection.ts';
export { isFirstParty } from './grants.ts';
export { clientMetadataValidator, InvalidClientMetadataError } from './client-store.ts';

export interface ProviderDependencies {
  config: Config;
  keys: KeyMaterial;
  tokenState: TokenState;
  accounts: AccountRepository;
  clients: ClientRepository;
  resources: ResourceServerRepository;
  logger: Logger;
}

/** The oidc-provider instance, assembled from one module per concern. */
export function createProvider(deps: ProviderDependencies): Provider {
  const { config, keys, tokenState } = deps;
  const secureCookies = config.issuer.startsWith('https://');

  const configuration: Configuration = {
    adapter: routeAdapters(tokenState.adapterFactory, deps.clients),
    jwks: keys.signingKeys as Configuration['jwks'],
    cookies: {
      keys: keys.cookieKeys,
      long: { signed: true, secure: secureCookies, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, secure: secureCookies, httpOnly: true, sameSite: 'lax' },
    },
    ...claimsConfiguration(),
    findAccount: createFindAccount(deps.accounts),
    features: featuresConfiguration({
      resourceIndicators: resourceIndicatorsConfiguration({
        issuer: config.issuer,
        resources: deps.resources,
        adminTokenTtl: Math.min(config.ttl.clientCredentials, 900),
      }),
      dpopNonceSecret: Buffer.from(keys.dpopNonceSecret, 'hex'),
    }),
    formats: {
      customizers: {
        // JWT access tokens are never stored: remember which grant issued which
        // jti, so revoking the grant can denylist them.
        jwt: async (_ctx, token) => {
          const { grantId, jti, exp } = token as unknown as { grantId?: string; jti: string; exp: number };
          if (grantId) await tokenState.issuedJwts.record(grantId, jti, exp);
        },
      },
    },
    clientAuthMethods: CLIENT_AUTH_METHODS as Configuration['clientAuthMethods'],
    enabledJWA: ENABLED_ALGORITHMS,
    extraClientMetadata: {
      properties: ['first_party', 'introspect_for', 'allowed_scopes'],
      validator: (_ctx, key, value) => {
        if (key === 'first_party' && value !== undefined && typeof value !== 'boolean') throw new Error('first_party must be a boolean');
        if ((key === 'introspect_for' || key === 'allowed_scopes') && value !== undefined && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
          throw new Error(`${key} must be an array of strings`);
        }
      },
    },
    pkce: { required: () => true },
    rotateRefreshToken: true,
    // a refresh token only when the client may use one and offline access was granted
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    loadExistingGrant: loadExistingGrant as Configuration['loadExistingGrant'],
    ttl: ttlConfiguration(config.ttl),
    renderError: renderProviderError as Configuration['renderError'],
    conformIdTokenClaims: true,
    allowOmittingSingleRegisteredRedirectUri: false,
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.proxy;
  compareSecretsByDigest(provider.Client as never);
  subscribeToProviderEvents(provider, deps.logger);
  translateStoreOutages(provider);
  return provider;
}

export type { Provider, KoaContextWithOIDC };
