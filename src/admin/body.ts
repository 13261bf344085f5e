import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import { AdminProblem } from './define.ts';

/** Admin bodies are small: users, clients, resources, import batches. */
export const BODY_LIMIT = '64kb';

const parseJson = bodyParser({ enableTypes: ['json'], jsonLimit: BODY_LIMIT, jsonStrict: true });

/**
 * The request body as JSON; an absent body is {} so that missing fields are
 * named by validation. Malformed, oversized or non-JSON bodies are 4xx
 * problems, never errors that escape as 5xx.
 */
export async function readJsonBody(ctx: Context): Promise<unknown> {
  if (ctx.request.length === 0 || ctx.request.is('application/json') === null) return {};
  if (ctx.request.is('application/json') === false) {
    throw new AdminProblem(415, 'Unsupported Media Type', 'the request body must be application/json');
  }
  try {
    await parseJson(ctx, async () => {});
  } catch (error) {
    const { status, type } = error as { status?: number; type?: string };
    if (status === 413 || type === 'entity.too.large') throw new AdminProblem(413, 'Content Too Large', `the request body must not exceed ${BODY_LIMIT}`);
    if (status === 415) throw new AdminProblem(415, 'Unsupported Media Type', 'the request body encoding is not supported');
    throw new AdminProblem(400, 'Bad Request', 'the request body is not valid JSON (an object is expected)');
  }
  return ctx.request.body;
}
