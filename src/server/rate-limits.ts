import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RateLimitsConfig } from '../config/index.ts';
import { answerRateLimitedJson, clientAddressOf, consumeOrAllow, createRateLimiter, rateLimitHeaders, type NodeHandler, type RateLimitDecision, type RateLimiter, type SharedCounters } from '../http/index.ts';
import { errorPage } from '../../views/error.ts';

/*
 * The limits per client address (tokenPerIp, authorizationPerIp,
 * pagesPerIp, deviceCodePerIp, registrationPerIp), on Node's request before either app reads it: a refused
 * request costs a map lookup. The address is the one the trusted proxies
 * report (src/http/proxy-trust.ts, believeTrustedProxies runs first), never a
 * header the client writes itself. Health, metrics, discovery, JWKS, userinfo
 * and the admin API are not limited per address (the admin API is per admin
 * client: src/admin/rate-limit.ts; introspection and revocation per client:
 * src/provider/rate-limits.ts).
 */

type AddressRule = 'tokenPerIp' | 'authorizationPerIp' | 'pagesPerIp' | 'deviceCodePerIp' | 'registrationPerIp';

/**
 * A POST to /device submits a user code (RFC 8628 §3.3: typed, or confirmed
 * on the next page); each one is a guess at a code that may belong to someone
 * else, so it counts toward its own, stricter limit. The pages under /device
 * (its GET, the resume after sign-in) are pages like the others.
 */
const isUserCodeSubmission = (lower: string, method: string | undefined) =>
  method === 'POST' && (lower === '/device' || lower === '/device/');

/** Which per-address limit a request counts toward; undefined: none. */
export function addressRuleOf(path: string, method?: string): AddressRule | undefined {
  const lower = path.toLowerCase();
  // the device authorization endpoint is called by clients, as the token endpoint is (and answers JSON)
  if (lower === '/token' || lower === '/device/auth') return 'tokenPerIp';
  if (isUserCodeSubmission(lower, method)) return 'deviceCodePerIp';
  // a pushed authorization request (PAR, /request) stands for one at /auth, and writes to the token state
  if (lower === '/auth' || lower.startsWith('/auth/') || lower === '/request') return 'authorizationPerIp';
  // dynamic client registration (src/registration): in open mode anyone may call it
  if (lower === '/reg' || lower.startsWith('/reg/')) return 'registrationPerIp';
  for (const prefix of ['/interaction/', '/account', '/session/end', '/device']) {
    if (lower.startsWith(prefix) && (lower.length === prefix.length || prefix.endsWith('/') || lower[prefix.length] === '/')) return 'pagesPerIp';
  }
  return undefined;
}

const pathOf = (req: IncomingMessage) => {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
};

/** A page for people: the authorization endpoint and the pages are opened by browsers. */
function answerRateLimitedPage(res: ServerResponse, rule: AddressRule, decision: RateLimitDecision): void {
  res.statusCode = 429;
  for (const [name, value] of Object.entries(rateLimitHeaders(rule, decision))) res.setHeader(name, value);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(errorPage({
    title: 'Too many requests',
    message: rule === 'deviceCodePerIp'
      ? `Too many codes were entered from your network. Wait ${decision.resetSeconds} seconds, then type the code again.`
      : `Too many requests came from your network. Wait ${decision.resetSeconds} seconds, then try again.`,
    requestId: String(res.getHeader('X-Request-Id') ?? ''),
  }));
}

export interface AddressRateLimits {
  /** `handler` behind the per-address limits */
  guard(handler: NodeHandler): NodeHandler;
}

export function createAddressRateLimits(options: {
  rules: RateLimitsConfig;
  counters: SharedCounters;
  onStoreError: (error: Error) => void;
}): AddressRateLimits {
  const limiters = new Map<AddressRule, RateLimiter>();
  for (const name of ['tokenPerIp', 'authorizationPerIp', 'pagesPerIp', 'deviceCodePerIp', 'registrationPerIp'] as const) {
    const rule = options.rules[name];
    if (rule) limiters.set(name, createRateLimiter({ name, rule, counters: options.counters }));
  }
  return {
    guard(handler) {
      if (limiters.size === 0) return handler;
      return (req, res) => {
        const rule = addressRuleOf(pathOf(req), req.method);
        const limiter = rule && limiters.get(rule);
        if (!limiter) return handler(req, res);
        return consumeOrAllow(limiter, clientAddressOf(req), options.onStoreError).then((decision) => {
          if (!decision || decision.allowed) return handler(req, res);
          if (rule === 'tokenPerIp' || rule === 'registrationPerIp') return answerRateLimitedJson(res, req, rule, decision);
          return answerRateLimitedPage(res, rule!, decision);
        });
      };
    },
  };
}
