import type Provider from 'oidc-provider';
import type { Configuration } from 'oidc-provider';
import type { Logger } from '../observability/index.ts';
import { isLoopbackHost } from '../http/index.ts';

/*
 * OpenID Connect Back-Channel Logout 1.0. oidc-provider builds, signs and
 * posts the logout tokens (at RP-initiated logout, and when Tessera ends a
 * session: src/tokens/sessions.ts); this module decides where they may go.
 *
 * The provider bounds every outgoing request (2.5 s) and connects only to
 * globally routable addresses (its SSRF guard refuses loopback, private and
 * other special-use ones). Tessera keeps both, with one exception an operator
 * has to ask for: with backchannelLogout.allowLoopback (development), a
 * logout token may go to a loopback address (127.0.0.0/8, ::1, localhost,
 * *.localhost: the one loopback check, src/http/loopback.ts).
 */


/**
 * A URL a client registers for the server to call (a back-channel logout
 * URI, a jwks_uri), or why it cannot be one: absolute, no credentials in it
 * (they would be sent, and logged), no fragment (never sent: a sign of a
 * mistake). Where it may point is each caller's rule.
 */
export function urlTheServerMayCall(value: string): URL | string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username || url.password) return 'must not contain credentials';
  if (url.hash || value.includes('#')) return 'must not contain a fragment';
  return url;
}

/**
 * Why a backchannel_logout_uri is refused, or undefined when it is accepted:
 * https, or http to a loopback host when loopback is allowed; no credentials
 * in it and no fragment (OpenID Connect Back-Channel Logout 1.0 §2.2).
 */
export function backchannelLogoutUriProblem(value: string, options: { allowLoopback: boolean }): string | undefined {
  const url = urlTheServerMayCall(value);
  if (typeof url === 'string') return url;
  const loopback = isLoopbackHost(url.hostname);
  if (loopback && !options.allowLoopback) return 'may name a loopback address only when BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK=true (development)';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && loopback) return undefined;
  return 'must be an https URL (http only to a loopback address, for development)';
}

/**
 * The provider's `fetch`: as the provider prepared it (timeout, SSRF guard),
 * except that with allowLoopback a request to a loopback host goes without
 * the guard, which would refuse it. Such a request follows no redirect (an
 * error, or the 3xx itself when the caller asked for `manual`): the guard
 * judges every connection of a request, redirects included, and without it
 * a loopback service answering 302 would lead the server anywhere (T181).
 */
export function outgoingFetch(options: { allowLoopback: boolean }): NonNullable<Configuration['fetch']> {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (options.allowLoopback && isLoopbackHost(url.hostname) && init) {
      const { dispatcher: _guard, ...rest } = init as RequestInit & { dispatcher?: unknown };
      return globalThis.fetch(input, { ...rest, redirect: rest.redirect === 'manual' ? 'manual' : 'error' });
    }
    return globalThis.fetch(input, init);
  };
}

/** Deliveries the provider made itself (RP-initiated logout), in the log: the client, never the token. */
export function logBackchannelLogouts(provider: Provider, logger: Logger): void {
  provider.on('backchannel.error', (_ctx, error, client) => {
    logger.warn({ clientId: client.clientId, err: error.message }, 'back-channel logout failed');
  });
  provider.on('backchannel.success', (_ctx, client) => {
    logger.debug({ clientId: client.clientId }, 'back-channel logout delivered');
  });
}
