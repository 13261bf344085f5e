import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import { AdminProblem } from './define.ts';

/** config.http's limits on admin API bodies: users, clients, resources, import batches. */
export interface AdminBodyLimits {
  readonly adminMaxBodyBytes: number;
  readonly adminMaxJsonDepth: number;
}

/** How deep `value` nests (a scalar 0, `{}` or `[]` 1), stopping once past `limit`. */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const walk = (node: unknown, depth: number): boolean => {
    if (node === null || typeof node !== 'object') return false;
    if (depth + 1 > limit) return true;
    const children = Array.isArray(node) ? node : Object.values(node as Record<string, unknown>);
    return children.some((child) => walk(child, depth + 1));
  };
  return walk(value, 0);
}

/**
 * A reader of request bodies as JSON; an absent body is {} so that missing
 * fields are named by validation. Malformed, oversized, too deep or non-JSON
 * bodies are 4xx problems, never errors that escape as 5xx.
 */
export function jsonBodyReader(limits: AdminBodyLimits): (ctx: Context) => Promise<unknown> {
  const parseJson = bodyParser({ enableTypes: ['json'], jsonLimit: limits.adminMaxBodyBytes, jsonStrict: true });
  return async (ctx) => {
    if (ctx.request.length === 0 || ctx.request.is('application/json') === null) return {};
    if (ctx.request.is('application/json') === false) {
      throw new AdminProblem(415, 'Unsupported Media Type', 'the request body must be application/json');
    }
    try {
      await parseJson(ctx, async () => {});
    } catch (error) {
      const { status, type } = error as { status?: number; type?: string };
      if (status === 413 || type === 'entity.too.large') throw new AdminProblem(413, 'Content Too Large', `the request body must not exceed ${limits.adminMaxBodyBytes} bytes`);
      if (status === 415) throw new AdminProblem(415, 'Unsupported Media Type', 'the request body encoding is not supported');
      throw new AdminProblem(400, 'Bad Request', 'the request body is not valid JSON (an object is expected)');
    }
    // JSON.parse has no depth limit of its own: nesting is bounded here, before validation walks it
    if (jsonDepthExceeds(ctx.request.body, limits.adminMaxJsonDepth)) {
      throw new AdminProblem(400, 'Bad Request', `the request body nests deeper than ${limits.adminMaxJsonDepth} levels`);
    }
    return ctx.request.body;
  };
}
