import { Readable } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeHandler } from './request-id.ts';

/** The limits of config.http this module applies (the admin API's JSON limits are src/admin/body.ts's). */
export interface InputLimits {
  readonly maxBodyBytes: number;
  readonly maxParameters: number;
  readonly maxParameterLength: number;
}

/** How a refusal is worded: OAuth JSON (protocol endpoints), problem+json (admin API), an HTML page. */
export type RefusalStyle = 'oauth' | 'problem' | 'page';

export interface InputLimitOptions {
  limits: InputLimits;
  styleOf: (path: string) => RefusalStyle;
  /** paths whose bodies are read by someone else (the admin API's JSON, src/admin/body.ts) */
  bodyReadElsewhere?: (path: string) => boolean;
  /** the request id the front door gave the request, for problem documents and pages */
  requestIdOf?: (res: ServerResponse) => string | undefined;
}

/** Methods whose body Tessera reads; the body of any other method is never read by anyone. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const FORM = /^application\/x-www-form-urlencoded\s*(;|$)/i;

export class InputRefused extends Error {
  readonly status: 400 | 405 | 413 | 414 | 415;
  constructor(status: 400 | 405 | 413 | 414 | 415, message: string) {
    super(message);
    this.status = status;
  }
}

const TITLES: Record<InputRefused['status'], string> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
};

/**
 * Counts the `&`-separated parameters of a form or query string and measures
 * each name and value as sent (still percent-encoded). Repeated separators
 * count as nothing, like URLSearchParams.
 */
export function checkParameters(encoded: string, limits: InputLimits, where: 'query' | 'body'): void {
  // No parameter of OAuth, OpenID Connect or Tessera's pages may hold a NUL
  // (RFC 6749 Appendix A); Postgres refuses it in text and JSON, so a NUL
  // that reached a lookup or an audit event was a 500, and an audit event
  // holding one blocked every event queued behind it.
  if (encoded.includes('%00') || encoded.includes('\0')) throw new InputRefused(400, `a ${where} parameter contains a NUL character`);
  let count = 0;
  let start = 0;
  while (start <= encoded.length) {
    let end = encoded.indexOf('&', start);
    if (end === -1) end = encoded.length;
    if (end > start) {
      count += 1;
      if (count > limits.maxParameters) throw new InputRefused(400, `the ${where} has more than ${limits.maxParameters} parameters`);
      const equals = encoded.indexOf('=', start);
      const nameEnd = equals === -1 || equals > end ? end : equals;
      const longest = Math.max(nameEnd - start, end - Math.min(nameEnd + 1, end));
      if (longest > limits.maxParameterLength) {
        throw new InputRefused(where === 'query' ? 414 : 400, `a ${where} parameter is longer than ${limits.maxParameterLength} characters`);
      }
    }
    start = end + 1;
  }
}

/** The body, refused with 413 as soon as it is longer than `limit` (by Content-Length or by what arrives). */
export function readLimitedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new InputRefused(413, `the request body must not exceed ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        req.off('data', onData);
        req.pause();
        reject(new InputRefused(413, `the request body must not exceed ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received)));
    req.once('error', reject);
    req.once('close', () => { if (!req.complete) reject(new Error('request aborted')); });
  });
}

/**
 * The request as the apps behind expect it: a stream of the body already read,
 * with the original's headers, method, URL and socket. oidc-provider, Koa's
 * body parser and the JWT fast path all read the stream themselves.
 */
const BUFFERED_BODY = Symbol('tessera.bufferedBody');

/** The body a replayed request carries, already read (undefined: the stream is the original's). */
export function bufferedBodyOf(req: IncomingMessage): Buffer | undefined {
  return (req as unknown as Record<symbol, Buffer | undefined>)[BUFFERED_BODY];
}

export function replayedRequest(req: IncomingMessage, body: Buffer): IncomingMessage {
  const replay = Readable.from(body.length ? [body] : [], { objectMode: false }) as unknown as Record<string, unknown>;
  for (const key of ['headers', 'rawHeaders', 'trailers', 'rawTrailers', 'method', 'url', 'httpVersion', 'httpVersionMajor', 'httpVersionMinor', 'socket', 'complete'] as const) {
    replay[key] = req[key];
  }
  replay.connection = req.socket;
  // the address the trusted proxies reported (a symbol property) goes with it
  for (const symbol of Object.getOwnPropertySymbols(req)) replay[symbol as unknown as string] = (req as unknown as Record<symbol, unknown>)[symbol];
  // a later reader (the per-client rate limits) takes the bytes instead of reading the stream again
  (replay as unknown as Record<symbol, Buffer>)[BUFFERED_BODY] = body;
  return replay as unknown as IncomingMessage;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The refusal, in the words the caller understands; never more than the limit that was crossed. */
export function sendRefusal(res: ServerResponse, refusal: InputRefused, style: RefusalStyle, requestId?: string): void {
  res.statusCode = refusal.status;
  res.setHeader('Cache-Control', 'no-store');
  // the rest of a refused body is not read: the connection cannot carry another request
  res.setHeader('Connection', 'close');
  let body: string;
  if (style === 'problem') {
    res.setHeader('Content-Type', 'application/problem+json');
    body = JSON.stringify({ type: 'about:blank', title: TITLES[refusal.status], status: refusal.status, detail: refusal.message, ...(requestId ? { instance: `urn:request:${requestId}` } : {}) });
  } else if (style === 'page') {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${TITLES[refusal.status]}</title></head>`
      + `<body><h1>${TITLES[refusal.status]}</h1><p>${escapeHtml(refusal.message)}</p>${requestId ? `<p>Request id: ${escapeHtml(requestId)}</p>` : ''}</body></html>`;
  } else {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    body = JSON.stringify({ error: 'invalid_request', error_description: refusal.message });
  }
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/**
 * Input limits in front of an app: the URL's parameters (count and length),
 * and for a request with a body on a method that has one, its type (a form:
 * every endpoint Tessera and the provider serve takes forms, except the admin
 * API's JSON) and size. The body is read here, up to the limit, and handed on
 * as a re-readable stream: whatever reads it behind sees at most the limit.
 */
export function withInputLimits(options: InputLimitOptions, next: NodeHandler): NodeHandler {
  const { limits, styleOf } = options;
  return async (req, res) => {
    const url = req.url ?? '/';
    const queryStart = url.indexOf('?');
    const path = queryStart === -1 ? url : url.slice(0, queryStart);
    try {
      if (queryStart !== -1) checkParameters(url.slice(queryStart + 1), limits, 'query');
      const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
      if (!hasBody || !BODY_METHODS.has(req.method ?? '') || options.bodyReadElsewhere?.(path)) return await next(req, res);
      if (!FORM.test(req.headers['content-type'] ?? '')) {
        throw new InputRefused(415, 'the request body must be application/x-www-form-urlencoded');
      }
      const body = await readLimitedBody(req, limits.maxBodyBytes);
      checkParameters(body.toString('latin1'), limits, 'body');
      return await next(replayedRequest(req, body), res);
    } catch (error) {
      if (!(error instanceof InputRefused)) {
        if ((error as Error).message === 'request aborted') { res.destroy(); return; }
        throw error;
      }
      if (res.headersSent) { res.destroy(); return; }
      sendRefusal(res, error, styleOf(path), options.requestIdOf?.(res));
    }
  };
}
