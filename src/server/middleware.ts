import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type Router from '@koa/router';
import type { Logger } from '../observability/index.ts';
import { LAYOUT_STYLE_HASH } from '../../views/layout.ts';
import { errorPage } from '../../views/error.ts';
import { isStoreUnavailable, RETRY_AFTER_SECONDS } from './store-errors.ts';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** Every request gets an id, echoed as X-Request-Id and shown on error pages. */
export function requestId() {
  return async (ctx: Context, next: Next) => {
    const incoming = ctx.get('x-request-id');
    const id = SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    await next();
  };
}

/** One line per request. The path only: query strings can carry codes and tokens. */
export function accessLog(logger: Logger) {
  // These lines hold only the fields below, none of them secret, so they skip the
  // root logger's redaction: its wildcard paths cost more than the rest of the line.
  const log = logger.child({}, { redact: [] });
  return async (ctx: Context, next: Next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
      log.info({
        requestId: ctx.state.requestId,
        method: ctx.method,
        path: ctx.path,
        status,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      }, 'request');
    }
  };
}

export function securityHeaders(options: { https: boolean }) {
  const csp = [
    "default-src 'none'",
    `style-src '${LAYOUT_STYLE_HASH}'`,
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return async (ctx: Context, next: Next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Content-Security-Policy', csp);
    if (options.https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    await next();
  };
}

function wantsHtml(ctx: Context): boolean {
  return ctx.accepts('json', 'html') === 'html' && !ctx.path.startsWith('/admin/');
}

/**
 * Last line of defence: no stack trace ever reaches a client, a store outage is
 * a 503 with Retry-After, anything else a generic 500 (logged with its id).
 */
export function errorBoundary(logger: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (error) {
      const err = error as Error & { status?: number; expose?: boolean; headers?: Record<string, string> };
      // an error that asks for 503 itself (e.g. password hashing overloaded) keeps it
      const unavailable = isStoreUnavailable(err) || err.status === 503;
      const status = unavailable ? 503 : (err.status && err.status < 500 ? err.status : 500);
      if (status >= 500) {
        logger.error({ requestId: ctx.state.requestId, err: { name: err.name, message: err.message, stack: unavailable ? undefined : err.stack } }, unavailable ? 'service unavailable' : 'unhandled error');
      }
      if (unavailable) ctx.set('Retry-After', err.headers?.['retry-after'] ?? String(RETRY_AFTER_SECONDS));
      ctx.status = status;
      const message = status === 503 ? 'The service is temporarily unavailable. Try again shortly.'
        : status >= 500 ? 'Something went wrong on our side.' : (err.expose ? err.message : 'The request could not be processed.');
      if (wantsHtml(ctx)) {
        ctx.type = 'html';
        ctx.body = errorPage({ title: status >= 500 ? 'Something went wrong' : 'Bad request', message, requestId: ctx.state.requestId });
      } else {
        ctx.body = status === 503
          ? { error: 'temporarily_unavailable', error_description: message }
          : status >= 500 ? { error: 'server_error', error_description: message } : { error: 'invalid_request', error_description: message };
      }
    }
  };
}

const firstSegmentOf = (path: string) => {
  const end = path.indexOf('/', 1);
  return (end === -1 ? path.slice(1) : path.slice(1, end)).toLowerCase();
};

/**
 * Sends a request whose first path segment none of `routers` has a route under
 * straight to `fallback` (the provider), so that protocol requests (/token,
 * /auth, ...) are not matched against every route of every router first, which
 * costs about 5% of a token request. The segments are read from the routers'
 * own layers, so a route added to one of them is seen; a layer that does not
 * start with a literal segment (a parameter, a router.use() without a path)
 * sends everything through the routers, as if this middleware were not there.
 */
export function skipRoutersUnlessClaimed(routers: Router[], fallback: (ctx: Context) => Promise<void>) {
  const claimed = new Set<string>();
  let claimsEverything = false;
  for (const router of routers) {
    for (const layer of router.stack) {
      const path = typeof layer.path === 'string' ? layer.path : '';
      const segment = firstSegmentOf(path);
      if (!path.startsWith('/') || !/^[a-z0-9._~-]+$/.test(segment)) claimsEverything = true;
      else claimed.add(segment);
    }
  }
  return async (ctx: Context, next: Next) => {
    if (claimsEverything || claimed.has(firstSegmentOf(ctx.path))) return next();
    return fallback(ctx);
  };
}
