// HTTP helpers every surface shares (front door, Tessera's app, the provider's
// middleware, the admin API). A leaf: it imports no other folder of src/.
export { isStoreUnavailable, retryAfterFor, unavailableOAuthError, RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE } from './store-outage.ts';
export { requestIdOf, SAFE_REQUEST_ID, type NodeHandler } from './request-id.ts';
export { believeTrustedProxies, cameThroughTrustedProxy, clientAddressOf, isAddressOrRange, proxyTrustFromEnvironment, unsafeProxyTrust, type ProxyTrustConfig } from './proxy-trust.ts';
export { currentRequestContext, outsideRequestContext, runWithRequestContext, shortenedUserAgent, MAX_USER_AGENT_LENGTH, type RequestContext } from './request-context.ts';
export { isLoopbackHost } from './loopback.ts';
export { answerRateLimitedJson, consumeOrAllow, createRateLimiter, rateLimitHeaders, RATE_LIMIT_HEADER_NAMES, type RateLimitDecision, type RateLimiter, type RateLimitRule, type SharedCounters } from './rate-limiter.ts';
export { certificateFromHeader, clientCertificateSource, hasClientCertificateSource, type CertificateOf, type ClientCertificateSources } from './client-certificate.ts';
export { bufferedBodyOf, checkParameters, InputRefused, readLimitedBody, replayedRequest, sendRefusal, withInputLimits, type InputLimits, type RefusalStyle } from './input-limits.ts';
export { methodNotAllowed } from './method-not-allowed.ts';
export { addressKind, type AddressKind } from './address-kind.ts';
