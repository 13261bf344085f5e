import type { Context } from 'koa';

/** A submitted form field as a string; anything else (absent, repeated, not a form) is ''. */
export function formField(ctx: Context, name: string): string {
  const body = ctx.request.body;
  if (!body || typeof body !== 'object') return '';
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}

/** The wait a locked-out person is told when the lockout did not say how long (whole seconds, at least 1). */
export const lockoutWaitSeconds = (retryAfterSeconds: number | undefined) => Math.max(1, Math.ceil(retryAfterSeconds ?? 60));
