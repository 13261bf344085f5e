import { randomUUID } from 'node:crypto';
import { errors } from 'oidc-provider';
import type { Context, Next } from 'koa';
import { errorPage } from '../../views/error.ts';
import { requestIdOf, retryAfterFor, RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE } from '../http/index.ts';

// Page errors: what a person sees when a sign-in page cannot go on — a
// friendly page with the request id, never a stack trace.

/** An error whose page (status, title, message) is already decided. */
export class PageError extends Error {
  readonly status: number;
  readonly title: string;
  constructor(status: number, title: string, message: string) {
    super(message);
    this.status = status;
    this.title = title;
  }
}

export const expiredRequest = () => new PageError(
  400,
  'This sign-in request has expired',
  'Go back to the application you came from and start signing in again.',
);

export const staleForm = () => new PageError(
  403,
  'This form has expired',
  'For your security the form could not be accepted. Go back to the application and start again.',
);

export const wrongStep = () => new PageError(
  400,
  'This step is no longer needed',
  'The sign-in has moved on. Go back to the application and start again if you are not signed in.',
);

/** The request's id for the page: Tessera's app has it in ctx.state; oidc-provider's pages read the front door's. */
export function pageRequestId(ctx: Context): string {
  const id: unknown = ctx.state?.requestId || requestIdOf(ctx);
  if (typeof id === 'string' && id) return id;
  // no front door (a page rendered outside the server): an id of its own
  const generated = randomUUID();
  if (ctx.state) ctx.state.requestId = generated;
  return generated;
}

export function sendPage(ctx: Context, status: number, page: string): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = page;
}

function statusOf(err: unknown): number {
  const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status
    ?? (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : 500;
}

function pageForError(err: unknown): PageError {
  if (err instanceof PageError) return err;
  if (err instanceof errors.SessionNotFound) return expiredRequest();
  const status = statusOf(err);
  if (status === 413) {
    return new PageError(413, 'That was too much data', 'The form you sent was larger than allowed. Go back and try again.');
  }
  // a store outage, or an error that asks for 503 itself (password hashing at capacity)
  if (retryAfterFor(err) !== undefined) {
    return new PageError(503, 'Temporarily unavailable', UNAVAILABLE_MESSAGE);
  }
  if (status < 500) {
    return new PageError(status, 'The request could not be processed', 'Go back to the application you came from and try again.');
  }
  return new PageError(500, 'Something went wrong', 'Something went wrong on our side. Try again in a moment.');
}

/** Every interaction response: never cached, and failures become a friendly page, never a stack. */
export async function interactionBoundary(ctx: Context, next: Next): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  try {
    await next();
  } catch (err) {
    const page = pageForError(err);
    if (page.status >= 500) ctx.app.emit('error', err, ctx);
    if (page.status === 503) ctx.set('Retry-After', retryAfterFor(err) ?? String(RETRY_AFTER_SECONDS));
    ctx.set('Cache-Control', 'no-store');
    sendPage(ctx, page.status, errorPage({ title: page.title, message: page.message, requestId: pageRequestId(ctx) }));
  }
}

