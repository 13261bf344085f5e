import type { IncomingMessage, ServerResponse } from 'node:http';
/*
 * Fixed-window rate limits whose count is shared by every instance, without a
 * round trip to the shared store per request: each instance leases slots from
 * the shared counter in batches (a fiftieth of the limit, at least one) and
 * serves requests from its lease. Near the limit a lease is cut to what the
 * counter has left, so no more than `limit` requests pass in a window across
 * all instances; slots leased by one instance and not used are lost to the
 * others, so a busy key may be refused up to (instances × batch) requests
 * early, never admitted over the limit.
 *
 * A leaf like the rest of src/http: the shared counters come in as an
 * argument (src/tokens/rate-limit-counters.ts implements them).
 */

/** at most `limit` requests per `windowSeconds` */
export interface RateLimitRule {
  readonly limit: number;
  readonly windowSeconds: number;
}

/** What the shared store does for the limiter (src/tokens/rate-limit-counters.ts). */
export interface SharedCounters {
  add(name: string, amount: number, expiresAtMs: number): Promise<number>;
}

export interface RateLimitDecision {
  readonly allowed: boolean;
  readonly limit: number;
  /** an estimate: the shared count as this instance last saw it, plus its unused lease */
  readonly remaining: number;
  /** seconds until the window ends (at least 1) */
  readonly resetSeconds: number;
  readonly windowSeconds: number;
  /** gives the slot back (a request that should not have counted); no effect once the window has ended */
  refund(): void;
}

export interface RateLimiter {
  readonly rule: RateLimitRule;
  consume(key: string): Promise<RateLimitDecision>;
}

interface Lease {
  window: number;
  /** slots leased and not used yet */
  available: number;
  /** the shared total after this instance's last lease */
  sharedTotal: number;
  /** the shared counter has nothing left this window */
  exhausted: boolean;
  /** a lease being taken: other requests for the key wait for it */
  pending?: Promise<void>;
}

/** leases kept at most (hostile keys: client_ids or addresses an attacker chooses) */
const DEFAULT_MAX_KEYS = 10_000;
/** keys longer than this are cut (they are never stored as they are: the counters digest them) */
const MAX_KEY_LENGTH = 256;

export function createRateLimiter(options: {
  /** names the limit in the shared counters (e.g. "tokenPerClient") */
  name: string;
  rule: RateLimitRule;
  counters: SharedCounters;
  maxKeys?: number;
  /** a lease is this fraction of the limit (default 1/50) */
  batchFraction?: number;
  now?: () => number;
}): RateLimiter {
  const { name, rule, counters } = options;
  const windowMs = rule.windowSeconds * 1000;
  const batch = Math.max(1, Math.floor(rule.limit * (options.batchFraction ?? 1 / 50)));
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  const now = options.now ?? Date.now;
  const leases = new Map<string, Lease>();

  /**
   * Room for one more lease: the oldest go (a lease is re-inserted when its
   * window starts, so ended windows come first). Their unused slots are lost,
   * never granted twice. O(1) per new key: a flood of new keys (client_ids
   * are the caller's to choose) must not cost a walk over the map each.
   */
  const makeRoom = () => {
    for (const key of leases.keys()) {
      if (leases.size < maxKeys) break;
      leases.delete(key);
    }
  };

  const takeLease = async (key: string, lease: Lease, window: number) => {
    // near the limit, no more than the counter has left (as last seen): other instances may need the rest
    const amount = Math.max(1, Math.min(batch, rule.limit - lease.sharedTotal));
    const total = await counters.add(`${name}:${window}:${key}`, amount, (window + 1) * windowMs);
    if (lease.window !== window) return; // the window ended meanwhile; this lease counts for nothing
    const granted = Math.max(0, Math.min(amount, rule.limit - (total - amount)));
    lease.sharedTotal = Math.max(lease.sharedTotal, total);
    lease.available += granted;
    if (granted < amount) lease.exhausted = true;
  };

  const decision = (allowed: boolean, lease: Lease, at: number, refund: () => void): RateLimitDecision => {
    const resetMs = (lease.window + 1) * windowMs - at;
    return {
      allowed,
      limit: rule.limit,
      remaining: Math.max(0, Math.min(rule.limit, rule.limit - lease.sharedTotal + lease.available)),
      resetSeconds: Math.max(1, Math.ceil(resetMs / 1000)),
      windowSeconds: rule.windowSeconds,
      refund,
    };
  };
  const noRefund = () => {};

  return {
    rule,
    async consume(rawKey) {
      const key = rawKey.length > MAX_KEY_LENGTH ? rawKey.slice(0, MAX_KEY_LENGTH) : rawKey;
      for (;;) {
        const at = now();
        const window = Math.floor(at / windowMs);
        let lease = leases.get(key);
        if (!lease || lease.window !== window) {
          if (lease) leases.delete(key);
          if (leases.size >= maxKeys) makeRoom();
          lease = { window, available: 0, sharedTotal: 0, exhausted: false };
          leases.set(key, lease);
        }
        if (lease.available > 0) {
          lease.available -= 1;
          const spent = lease;
          let refunded = false;
          return decision(true, lease, at, () => {
            if (refunded || spent.window !== Math.floor(now() / windowMs) || leases.get(key) !== spent) return;
            refunded = true;
            spent.available += 1;
          });
        }
        if (lease.exhausted) return decision(false, lease, at, noRefund);
        if (!lease.pending) {
          const current = lease;
          current.pending = takeLease(key, current, window).finally(() => { current.pending = undefined; });
        }
        await lease.pending;
      }
    },
  };
}

/** The draft-ietf-httpapi-ratelimit-headers fields (and Retry-After when refused) for a decision. */
export function rateLimitHeaders(policyName: string, decision: RateLimitDecision): Record<string, string> {
  const headers: Record<string, string> = {
    'RateLimit-Limit': String(decision.limit),
    'RateLimit-Remaining': String(decision.remaining),
    'RateLimit-Reset': String(decision.resetSeconds),
    'RateLimit-Policy': `${decision.limit};w=${decision.windowSeconds};comment="${policyName}"`,
  };
  if (!decision.allowed) headers['Retry-After'] = String(decision.resetSeconds);
  return headers;
}

/** For browsers' scripts behind CORS (only where CORS applies). */
export const RATE_LIMIT_HEADER_NAMES = 'RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy, Retry-After';

/**
 * A refusal on Node's response, for the protocol endpoints: 429 with the
 * headers and an OAuth-style error. RFC 6749 has no error code for this; its
 * `temporarily_unavailable` (defined for the authorization endpoint) says
 * what a client should do, wait and retry, and is what clients know how to read.
 */
export function answerRateLimitedJson(res: ServerResponse, req: IncomingMessage, policyName: string, decision: RateLimitDecision): void {
  res.statusCode = 429;
  for (const [name, value] of Object.entries(rateLimitHeaders(policyName, decision))) res.setHeader(name, value);
  if (req.headers.origin !== undefined) res.setHeader('Access-Control-Expose-Headers', RATE_LIMIT_HEADER_NAMES);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ error: 'temporarily_unavailable', error_description: `Too many requests; retry in ${decision.resetSeconds} seconds.` }));
}

/** Consumes a slot, or says nothing when the shared counters cannot be reached (fails open: see docs/operations.md). */
export async function consumeOrAllow(limiter: RateLimiter, key: string, onError: (error: Error) => void): Promise<RateLimitDecision | undefined> {
  try {
    return await limiter.consume(key);
  } catch (error) {
    onError(error as Error);
    return undefined;
  }
}
