import type { Configuration } from 'oidc-provider';
import { renderLogoutSource, renderPostLogoutSuccess, type devicePages } from '../interactions/index.ts';
import { introspectionAllowedPolicy, revocationAllowedPolicy } from './introspection.ts';

/** Which protocol features are on. Everything development-only is off. */
export function featuresConfiguration(deps: {
  resourceIndicators: NonNullable<Configuration['features']>['resourceIndicators'];
  dpopNonceSecret: Buffer;
  /** mTLS (mtls.ts); absent: off */
  mTLS?: NonNullable<Configuration['features']>['mTLS'];
  /** the device flow's pages (src/interactions/device-pages.ts) */
  devicePages: ReturnType<typeof devicePages>;
}): Configuration['features'] {
  return {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: introspectionAllowedPolicy as never },
    // only the token's own client may revoke it (the provider's default, stated so it stays that way)
    revocation: { enabled: true, allowedPolicy: revocationAllowedPolicy as never },
    userinfo: { enabled: true },
    jwtUserinfo: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: renderLogoutSource as never,
      postLogoutSuccessSource: renderPostLogoutSuccess as never,
    },
    // logout tokens to clients that registered a backchannel_logout_uri
    // (absent: none is sent); where they may go: backchannel-logout.ts
    backchannelLogout: { enabled: true },
    resourceIndicators: deps.resourceIndicators,
    dPoP: { enabled: true, nonceSecret: deps.dpopNonceSecret },
    // PAR (RFC 9126): per client `require_pushed_authorization_requests` (absent: not required)
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false, allowUnregisteredRedirectUris: false },
    // JAR (RFC 9101): the `request` parameter, signed with a key the client
    // registered (asymmetric algorithms only: ENABLED_ALGORITHMS; never alg
    // none). A request_uri is only ever PAR's own urn: the provider fetches no
    // request object from elsewhere. Per client `require_signed_request_object`.
    requestObjects: { enabled: true, requireSignedRequestObject: false },
    registration: { enabled: false },
    // RFC 8628 (device-flow.ts): only clients registered for the grant may start it (the
    // provider checks grant_types at /device/auth); user codes of 8 base-20 characters
    // (about 34.6 bits) shown as XXXX-XXXX, guessing bounded by rateLimits.deviceCodePerIp
    deviceFlow: {
      enabled: true,
      charset: 'base-20',
      mask: '****-****',
      userCodeInputSource: deps.devicePages.userCodeInputSource as never,
      userCodeConfirmSource: deps.devicePages.userCodeConfirmSource as never,
      successSource: deps.devicePages.successSource as never,
    },
    mTLS: deps.mTLS ?? { enabled: false },
  };
}

/**
 * Only asymmetric algorithms: client secrets are stored as digests, so HS* cannot work.
 * Discovery advertises only what a test exercises (test/protocol/discovery.test.ts):
 * ID tokens are RS256 only, since no client can register id_token_signed_response_alg.
 */
export const ENABLED_ALGORITHMS: Configuration['enabledJWA'] = {
  idTokenSigningAlgValues: ['RS256'],
  userinfoSigningAlgValues: ['RS256', 'ES256'],
  requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
  clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
  introspectionSigningAlgValues: ['RS256', 'ES256'],
  authorizationSigningAlgValues: ['RS256', 'ES256'],
};

// private_key_jwt: for clients that registered their public keys (jwks / jwks_uri,
// src/provider/client-keys.ts); its signing algorithms are clientAuthSigningAlgValues
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];
/** with mTLS on (a client certificate source configured) */
export const MTLS_CLIENT_AUTH_METHODS = [...CLIENT_AUTH_METHODS, 'tls_client_auth', 'self_signed_tls_client_auth'];
