import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Where a request came from, as the audit log records it: the client's
 * address (after the trusted proxies, src/http/proxy-trust.ts), its user agent
 * (shortened) and the request id the front door gave it.
 */
export interface RequestContext {
  readonly ip?: string;
  readonly userAgent?: string;
  readonly requestId?: string;
}

/** A client chooses its user agent: what is kept of it is bounded. */
export const MAX_USER_AGENT_LENGTH = 512;

/*
 * One store for the process, not per server: AsyncLocalStorage keeps a value
 * per asynchronous call chain, so two servers in one process (tests) each see
 * only their own requests. It lets the audit log read where a request came from
 * without every handler, provider event and grant passing it along: events that
 * oidc-provider emits run in the request's call chain and see it too.
 */
const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` (a request's handling) with `context` as the current request context. */
export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * Runs `fn` outside any request's context: timers and promise chains started in
 * it (a batch write, say) serve no single request, and must not lend one
 * request's address to what they record later.
 */
export function outsideRequestContext<T>(fn: () => T): T {
  return storage.exit(fn);
}

/** The context of the request being handled; undefined outside any request (timers, startup, the CLI). */
export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

/** A user agent header as it may be kept: a string, at most MAX_USER_AGENT_LENGTH characters. */
export function shortenedUserAgent(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text ? text.slice(0, MAX_USER_AGENT_LENGTH) : undefined;
}
