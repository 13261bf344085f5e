import type { Context } from 'koa';

export interface FieldError { field: string; message: string }

/** RFC 9457 problem details. */
export function problem(ctx: Context, status: number, title: string, detail?: string, errors?: FieldError[]): void {
  ctx.status = status;
  ctx.type = 'application/problem+json';
  ctx.body = {
    type: 'about:blank',
    title,
    status,
    ...(detail ? { detail } : {}),
    ...(errors ? { errors } : {}),
    ...(ctx.state.requestId ? { instance: `urn:request:${ctx.state.requestId}` } : {}),
  };
}
