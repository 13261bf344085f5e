import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { KeyMaterial } from '../keys/index.ts';
import type { TokenState } from '../tokens/index.ts';
import type { AccountRepository, CredentialVerifier } from '../accounts/index.ts';
import type { ClientRepository, ResourceServerRepository } from '../clients/index.ts';
import { createClientMetadataDocuments, isClientIdUrl } from '../clients/index.ts';
import type { Logger } from '../observability/index.ts';
import { renderProviderError, devicePages } from '../interactions/index.ts';
import { ACR_VALUES, type MfaService } from '../mfa/index.ts';
import { ttlConfiguration } from './ttl.ts';
import { claimsConfiguration, createFindAccount } from './claims.ts';
import { resourceIndicatorsConfiguration } from './resource-servers.ts';
import { passwordGrant, tokenExchangeGrant } from '../grants/index.ts';
import { routeAdapters, compareSecretsByDigest, reuseBuiltClients } from './client-store.ts';
import { clientBasedCors, corsOnlyForRegisteredOrigins, webOriginsProblem } from './web-origins.ts';
import { detectReplaysWith } from './replay-detection.ts';
import { featuresConfiguration, ENABLED_ALGORITHMS, CLIENT_AUTH_METHODS, MTLS_CLIENT_AUTH_METHODS } from './features.ts';
import { mtlsFeature } from './mtls.ts';
import type { CertificateOf } from '../http/index.ts';
import { loadExistingGrant, firstPartyInteractionPolicy } from './first-party.ts';
import { subscribeToProviderEvents } from './events.ts';
import { recordProviderAuditEvents } from './audit-events.ts';
import type { AuditRecord } from '../audit/index.ts';
import { answerStoreOutages } from './outage.ts';
import { installPipeline, onlyWhere, pathMayBe, type ProviderStep } from './pipeline.ts';
import { answerForJwtAccessTokens, createJwtAccessTokenAnswers, type JwtAccessTokenAnswers } from './jwt-access-tokens.ts';
import { refuseUserinfoForTokensOlderThanTheirClient } from './userinfo.ts';
import { honouredByItsClient, mayIntrospect } from './introspection.ts';
import { explainRefusedAuthorizationCodes } from './code-refusal-hints.ts';
import { noteDroppedOfflineAccess } from './offline-access-notice.ts';
import { accountClientMetadata } from '../account/index.ts';
import { logBackchannelLogouts, outgoingFetch } from './backchannel-logout.ts';
import { recordSessionActivity } from './session-activity.ts';
import { REGISTRATION_PATH } from './registration-path.ts';
import { dropUnregisteredPostLogoutRedirects } from './post-logout-redirect.ts';
import { advertisePollingInterval, recordDeviceDecisions, restartCodeEntryWithoutSession, slowDownFastPolling } from './device-flow.ts';

export { ADMIN_SCOPE, adminResourceOf, allowedScopes } from './resource-servers.ts';
export { mayIntrospect, audiencesOf } from './introspection.ts';
export { clientMetadataValidator, InvalidClientMetadataError } from './client-store.ts';
export { jwtEndpointsFastPath } from './jwt-endpoints-fast-path.ts';
export { createClientRateLimits } from './rate-limits.ts';
export { effectiveWebOrigins, webOriginsProblem, ANY_ORIGIN } from './web-origins.ts';
import { noCorsHeadersWithoutOrigin } from './cors-without-origin.ts';
import { answerUnauthorizedClientStep } from './unauthorized-client.ts';
import { noErrorRedirectsToSelfRegisteredClients } from './self-registered-error-redirects.ts';
export { methodsForPath, providerRoutes, rejectWrongMethods, type ProviderRoute } from './routes.ts';
export { backchannelLogoutUriProblem } from './backchannel-logout.ts';
export { jwksProblem, jwksUriProblem, MAX_CLIENT_KEYS, MAX_JWKS_BYTES } from './client-keys.ts';
import { checkClientAssertion, JWKS_URI_BODY_LIMIT_BYTES } from './client-keys.ts';
export { REGISTRATION_PATH } from './registration-path.ts';

export interface ProviderDependencies {
  config: Config;
  keys: KeyMaterial;
  tokenState: TokenState;
  accounts: AccountRepository;
  clients: ClientRepository;
  resources: ResourceServerRepository;
  logger: Logger;
  verifyCredentials: CredentialVerifier;
  /** second factors: the password grant asks enrolled people for a code */
  mfa: MfaService;
  /** security events inside the provider (issued tokens, refresh-token reuse, logout) */
  audit?: { enqueue(event: AuditRecord): void };
  /** a request's client certificate (src/http/client-certificate.ts); absent: mTLS off */
  certificateOf?: CertificateOf;
  /** with mTLS: a request's certificate whether or not it chains to the client CA, for self_signed_tls_client_auth only */
  selfSignedCertificateOf?: CertificateOf;
}

/**
 * The oidc-provider instance, assembled from one module per concern, and the
 * answers for JWT access tokens at introspection and revocation (which the
 * provider refuses to give itself).
 */
export function createProvider(deps: ProviderDependencies): { provider: Provider; jwtAnswers: JwtAccessTokenAnswers } {
  const { config, keys, tokenState } = deps;
  const secureCookies = config.issuer.startsWith('https://');

  const resourceIndicators = resourceIndicatorsConfiguration({
    issuer: config.issuer,
    resources: deps.resources,
    adminTokenTtl: Math.min(config.ttl.clientCredentials, 900),
  });

  // client ID metadata documents (src/clients/client-metadata-documents.ts); absent: off, a URL client_id is an unknown client
  const documents = config.clientMetadataDocuments?.enabled === true
    ? createClientMetadataDocuments({
      allowLoopback: config.clientMetadataDocuments.allowLoopback === true,
      onRefused: (clientId, reason) => deps.logger.info({ clientId, reason }, 'client ID metadata document refused'),
    })
    : undefined;
  const clientSource = {
    findProviderMetadata: (id: string) => (documents && isClientIdUrl(id) ? documents.find(id) : deps.clients.findProviderMetadata(id)),
  };

  const configuration: Configuration = {
    adapter: routeAdapters(tokenState.adapterFactory, clientSource),
    // the one client the server defines itself: /account signs people in through the pages (src/account)
    clients: [accountClientMetadata(config.issuer)],
    jwks: keys.signingKeys as Configuration['jwks'],
    cookies: {
      keys: keys.cookieKeys,
      long: { signed: true, secure: secureCookies, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, secure: secureCookies, httpOnly: true, sameSite: 'lax' },
    },
    ...claimsConfiguration(),
    // RFC 8414 metadata (/.well-known/oauth-authorization-server) is the same document as openid-configuration
    ...(documents ? { discovery: { client_id_metadata_document_supported: true } } : {}),
    // what a sign-in proved (src/mfa/authentication-level.ts): advertised as acr_values_supported
    acrValues: [...ACR_VALUES],
    findAccount: createFindAccount(deps.accounts),
    features: featuresConfiguration({
      resourceIndicators,
      dpopNonceSecret: Buffer.from(keys.dpopNonceSecret, 'hex'),
      mTLS: deps.certificateOf ? mtlsFeature(deps.certificateOf, deps.selfSignedCertificateOf) : undefined,
      devicePages: devicePages({ resourceName: async (identifier) => (await deps.resources.find(identifier))?.name }),
    }),
    // what a grant put on the token stays on it (token exchange: `act`, RFC 8693 §4.1); the provider would otherwise drop it at save
    extraTokenClaims: async (_ctx, token) => (token as unknown as { extra?: Record<string, unknown> }).extra,
    formats: {
      customizers: {
        // JWT access tokens are never stored: remember which grant issued which
        // jti, so revoking the grant can denylist them.
        // (jti and exp are read from the JWT's payload: the model has no exp)
        jwt: async (_ctx, token, { payload }) => {
          const { grantId } = token as unknown as { grantId?: string };
          const { jti, exp } = payload as { jti?: unknown; exp?: unknown };
          if (grantId && typeof jti === 'string' && typeof exp === 'number') {
            await tokenState.issuedJwts.record(grantId, jti, exp);
            await tokenState.grantUse.touch(grantId);
          }
        },
      },
    },
    clientAuthMethods: (deps.certificateOf ? MTLS_CLIENT_AUTH_METHODS : CLIENT_AUTH_METHODS) as Configuration['clientAuthMethods'],
    enabledJWA: ENABLED_ALGORITHMS,
    extraClientMetadata: {
      properties: ['first_party', 'require_mfa', 'introspect_for', 'allowed_scopes', 'tokens_not_before', 'previous_client_secret', 'previous_client_secret_expires_at', 'web_origins',
        // set by the repository for a client that registered itself (src/registration), never by a caller
        'dynamically_registered',
        'token_exchange_audiences', 'token_exchange_impersonation',
        // with mTLS off the provider would drop the property and issue bearer tokens: refused instead, at registration and when a stored client loads
        ...(deps.certificateOf ? [] : ['tls_client_certificate_bound_access_tokens'])],
      validator: (_ctx, key, value) => {
        if (key === 'tls_client_certificate_bound_access_tokens' && value === true) {
          throw new Error('tls_client_certificate_bound_access_tokens needs mTLS, which this server has not configured (TLS_CLIENT_CA_FILE or TLS_CLIENT_CERT_HEADER)');
        }
        if (key === 'first_party' && value !== undefined && typeof value !== 'boolean') throw new Error('first_party must be a boolean');
        if (key === 'require_mfa' && value !== undefined && typeof value !== 'boolean') throw new Error('require_mfa must be a boolean');
        if (key === 'dynamically_registered' && value !== undefined && value !== true) throw new Error('dynamically_registered must be true or absent');
        // set by the repository (tokensNotBeforeOf), never by a caller
        if (key === 'tokens_not_before' && value !== undefined && !Number.isSafeInteger(value)) throw new Error('tokens_not_before must be an integer');
        // a rotation's grace period (repository rotateSecret): the old secret's digest and its end
        if (key === 'previous_client_secret' && value !== undefined && typeof value !== 'string') throw new Error('previous_client_secret must be a string');
        if (key === 'previous_client_secret_expires_at' && value !== undefined && !Number.isSafeInteger(value)) throw new Error('previous_client_secret_expires_at must be an integer');
        // CORS per client (web-origins.ts); absent: derived for public clients, none for confidential ones
        if (key === 'web_origins' && value !== undefined) {
          const problem = webOriginsProblem(value);
          if (problem) throw new Error(problem);
        }
        if (key === 'token_exchange_impersonation' && value !== undefined && typeof value !== 'boolean') throw new Error('token_exchange_impersonation must be a boolean');
        if ((key === 'introspect_for' || key === 'allowed_scopes' || key === 'token_exchange_audiences') && value !== undefined && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
          throw new Error(`${key} must be an array of strings`);
        }
      },
    },
    // the provider's own guard (timeout, no special-use addresses), loopback for development only
    fetch: outgoingFetch({ allowLoopback: config.backchannelLogout?.allowLoopback === true || config.jwksUri?.allowLoopback === true }),
    // a client's jwks_uri answer is read up to this (the provider's default is no limit)
    fetchResponseBodyLimits: { jwks_uri: JWKS_URI_BODY_LIMIT_BYTES, sector_identifier_uri: JWKS_URI_BODY_LIMIT_BYTES, 'client_id metadata document': 5 * 1024 },
    // private_key_jwt assertions live minutes at most, for the issuer alone (client-keys.ts); single use: replay-detection.ts
    assertJwtClientAuthClaimsAndHeader: checkClientAssertion,
    pkce: { required: () => true },
    // the authorization code flow only: no implicit grant and no token-returning
    // response types (RFC 9700 §2.1.2), so discovery advertises only `code`
    responseTypes: ['code'],
    // per client: its web_origins (web-origins.ts)
    clientBasedCORS: clientBasedCors,
    rotateRefreshToken: true,
    // a refresh token only when the client may use one and offline access was granted
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    loadExistingGrant: loadExistingGrant as Configuration['loadExistingGrant'],
    interactions: { policy: firstPartyInteractionPolicy() },
    ttl: ttlConfiguration(config.ttl),
    renderError: renderProviderError as Configuration['renderError'],
    conformIdTokenClaims: true,
    allowOmittingSingleRegisteredRedirectUri: false,
    // dynamic client registration is Tessera's own endpoint (src/registration), advertised only while it is on
    ...(config.dynamicRegistration.mode === 'off' ? {} : { discovery: { registration_endpoint: `${config.issuer}${REGISTRATION_PATH}` } }),
  };

  const provider = new Provider(config.issuer, configuration);
  // before any client is loaded: a client listing `password` validates only once the grant is known
  provider.registerGrantType(passwordGrant.type, passwordGrant.buildHandler({
    verifyCredentials: deps.verifyCredentials,
    mfa: deps.mfa,
    findAccount: configuration.findAccount!,
    getResourceServerInfo: resourceIndicators.getResourceServerInfo,
    certificateOf: deps.certificateOf,
  }), passwordGrant.parameters, passwordGrant.repeatableParameters);
  // the JWT verifier is built once the provider exists (below); the handler reads it per request
  let jwtAnswers: JwtAccessTokenAnswers | undefined;
  provider.registerGrantType(tokenExchangeGrant.type, tokenExchangeGrant.buildHandler({
    getResourceServerInfo: resourceIndicators.getResourceServerInfo,
    verifyJwt: (token) => jwtAnswers!.verify(token),
    mayIntrospect,
    honouredByItsClient,
    tokenState,
    audit: deps.audit,
  }), tokenExchangeGrant.parameters, tokenExchangeGrant.repeatableParameters);
  provider.proxy = config.proxy !== false; // X-Forwarded-* as believeTrustedProxies (src/http) left them

  // The provider's Client model reads Tessera's clients (client-store.ts).
  compareSecretsByDigest(provider.Client as never);
  reuseBuiltClients(provider.Client as never, clientSource, { mtls: !!deps.certificateOf });
  // DPoP proofs and client assertions single-use across every instance (replay-detection.ts)
  detectReplaysWith(provider, tokenState.replays);
  subscribeToProviderEvents(provider, deps.logger);
  logBackchannelLogouts(provider, deps.logger);
  if (deps.audit) recordProviderAuditEvents(provider, deps.audit);
  if (deps.audit) tokenExchangeGrant.recordRefusals(provider, deps.audit);

  jwtAnswers = createJwtAccessTokenAnswers({ provider, keys, tokenState });
  installPipeline(provider, providerPipeline({ provider, jwtAnswers, config, logger: deps.logger, tokenState, audit: deps.audit }));
  return { provider, jwtAnswers };
}

/**
 * Tessera's steps around the provider's own routes, outermost first (each
 * wraps those after it and sees their answers). The order matters where one
 * step rewrites what another answers: a store outage inside the JWT answers
 * must still become a 503, so answerStoreOutages wraps them. The three
 * before the next to last only read or reword answers the provider gave; the
 * next to last takes an unregistered post_logout_redirect_uri out of a logout
 * request before the provider reads it; the last turns an authorization error
 * bound for a self-registered client's redirect URI into a page.
 */
function providerPipeline(deps: {
  jwtAnswers: JwtAccessTokenAnswers; config: Config; logger: Logger; tokenState: TokenState; provider: Provider;
  audit?: { enqueue(event: AuditRecord): void };
}): ProviderStep[] {
  const { pollIntervalSeconds } = deps.config.deviceFlow;
  // steps that serve one route let the others (introspection, the pages) pass without waiting for the answer
  const tokenPath = deps.provider.pathFor('token');
  const devicePaths = [deps.provider.pathFor('code_verification'), deps.provider.pathFor('device_authorization')];
  const atDevice = pathMayBe({ under: devicePaths });
  const atDeviceOrToken = pathMayBe({ exact: [tokenPath], under: devicePaths });
  return [
    corsOnlyForRegisteredOrigins(),
    onlyWhere(atDeviceOrToken, answerUnauthorizedClientStep),
    answerStoreOutages(),
    onlyWhere(atDevice, restartCodeEntryWithoutSession()),
    // inside the outage answer: a token state that cannot take the claim is a 503
    slowDownFastPolling({ tokenPath, intervalSeconds: pollIntervalSeconds, replays: deps.tokenState.replays }),
    onlyWhere(atDevice, advertisePollingInterval(pollIntervalSeconds)),
    onlyWhere(atDevice, recordDeviceDecisions(deps.audit)),
    answerForJwtAccessTokens(deps.jwtAnswers),
    refuseUserinfoForTokensOlderThanTheirClient(),
    explainRefusedAuthorizationCodes({ codeTtlSeconds: deps.config.ttl.authorizationCode }),
    noteDroppedOfflineAccess(deps.logger),
    recordSessionActivity({ sessions: deps.tokenState.sessions, logger: deps.logger }),
    noCorsHeadersWithoutOrigin(),
    dropUnregisteredPostLogoutRedirects({ provider: deps.provider, logger: deps.logger }),
    noErrorRedirectsToSelfRegisteredClients(),
  ];
}

export type { Provider, KoaContextWithOIDC };
