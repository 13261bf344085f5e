import type { Context, Next } from 'koa';
import type { Logger } from '../observability/index.ts';
import { errorPage } from '../../views/error.ts';
import { requestIdOf, retryAfterFor, unavailableOAuthError, UNAVAILABLE_MESSAGE } from '../http/index.ts';

/** The request id the front door gave this request, for pages and problem documents. */
export function adoptRequestId() {
  return async (ctx: Context, next: Next) => {
    ctx.state.requestId = requestIdOf(ctx);
    await next();
  };
}

function wantsHtml(ctx: Context, jsonOnly: (path: string) => boolean): boolean {
  return ctx.accepts('json', 'html') === 'html' && !jsonOnly(ctx.path);
}

/**
 * Last line of defence: no stack trace ever reaches a client, a store outage is
 * a 503 with Retry-After, anything else a generic 500 (logged with its id).
 */
export function errorBoundary(logger: Logger, options: { jsonOnly: (path: string) => boolean }) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (error) {
      const err = error as Error & { status?: number; expose?: boolean };
      const retryAfter = retryAfterFor(err);
      const unavailable = retryAfter !== undefined;
      const status = unavailable ? 503 : (err.status && err.status < 500 ? err.status : 500);
      if (status >= 500) {
        logger.error({ requestId: ctx.state.requestId, err: { name: err.name, message: err.message, stack: unavailable ? undefined : err.stack } }, unavailable ? 'service unavailable' : 'unhandled error');
      }
      if (unavailable) ctx.set('Retry-After', retryAfter);
      ctx.status = status;
      const message = status === 503 ? UNAVAILABLE_MESSAGE
        : status >= 500 ? 'Something went wrong on our side.' : (err.expose ? err.message : 'The request could not be processed.');
      if (wantsHtml(ctx, options.jsonOnly)) {
        ctx.type = 'html';
        ctx.body = errorPage({ title: status >= 500 ? 'Something went wrong' : 'Bad request', message, requestId: ctx.state.requestId });
      } else {
        ctx.body = status === 503
          ? unavailableOAuthError()
          : status >= 500 ? { error: 'server_error', error_description: message } : { error: 'invalid_request', error_description: message };
      }
    }
  };
}
