import { STATUS_CODES } from 'node:http';
import type { Context, Next } from 'koa';
import type { Logger } from '../observability/index.ts';
import { retryAfterFor, UNAVAILABLE_MESSAGE } from '../http/index.ts';
import { AdminProblem } from './define.ts';
import { problem } from './problem.ts';

/**
 * Everything the admin API answers is problem+json, failures included: a
 * caller's mistake keeps its 4xx, an unavailable store is a 503 with
 * Retry-After, and anything else a 500 whose details stay in the log.
 */
export function adminErrors(logger: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (error) {
      if (error instanceof AdminProblem) return problem(ctx, error.status, error.title, error.detail, error.errors);
      const retryAfter = retryAfterFor(error);
      if (retryAfter !== undefined) {
        ctx.set('Retry-After', retryAfter);
        return problem(ctx, 503, 'Service Unavailable', UNAVAILABLE_MESSAGE);
      }
      const err = error as Error & { status?: number; expose?: boolean };
      if (err.status && err.status >= 400 && err.status < 500) {
        return problem(ctx, err.status, STATUS_CODES[err.status] ?? 'Bad Request', err.expose ? err.message : undefined);
      }
      logger.error({ requestId: ctx.state.requestId, err: { name: err.name, message: err.message, stack: err.stack } }, 'admin API error');
      problem(ctx, 500, 'Internal Server Error', 'something went wrong on our side');
    }
  };
}
