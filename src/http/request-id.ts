import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request handler on Node's own request and response (the front door, each app's callback). */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** An incoming X-Request-Id is kept only when it is this harmless (it is echoed and logged). */
export const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/**
 * The id the front door gave this request: on the response from the start, so
 * readable from either Koa app's context (the incoming X-Request-Id header is
 * not: an unsafe one was replaced).
 */
export function requestIdOf(ctx: { response: { get(field: string): string } }): string | undefined {
  return ctx.response.get('X-Request-Id') || undefined;
}
