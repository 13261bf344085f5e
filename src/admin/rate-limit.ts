import type { Context, Next } from 'koa';
import type { RateLimitRule } from '../config/index.ts';
import { consumeOrAllow, createRateLimiter, rateLimitHeaders, type SharedCounters } from '../http/index.ts';
import { problem } from './problem.ts';

/**
 * adminPerClient: requests per admin client (the client_id of its access
 * token), after the guard (guard.ts) has accepted the token, so that only an
 * authenticated admin client spends its own slots; a request without a valid
 * token is refused by the guard before it counts. false: no limit.
 */
export function adminRateLimit(options: { rule: RateLimitRule | false; counters: SharedCounters; onStoreError: (error: Error) => void }) {
  if (!options.rule) return async (_ctx: Context, next: Next) => { await next(); };
  const limiter = createRateLimiter({ name: 'adminPerClient', rule: options.rule, counters: options.counters });
  return async (ctx: Context, next: Next) => {
    const clientId = (ctx.state.admin as { clientId?: string } | undefined)?.clientId;
    if (!clientId) return next();
    const decision = await consumeOrAllow(limiter, clientId, options.onStoreError);
    if (!decision || decision.allowed) return next();
    ctx.set(rateLimitHeaders('adminPerClient', decision));
    problem(ctx, 429, 'Too Many Requests', `this admin client made more than ${decision.limit} requests in ${decision.windowSeconds} seconds; retry in ${decision.resetSeconds} seconds`);
  };
}
