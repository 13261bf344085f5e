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

/** A form field holding JSON of an object (a WebAuthn credential from the page's script), or undefined. */
export function jsonObjectField(ctx: Context, name: string, maxLength: number): Record<string, unknown> | undefined {
  const text = formField(ctx, name);
  if (!text || text.length > maxLength) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}
