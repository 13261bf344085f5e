import { randomUUID } from 'node:crypto';
import { ServerResponse, type IncomingMessage } from 'node:http';
import { clientAddressOf, runWithRequestContext, SAFE_REQUEST_ID, shortenedUserAgent, type NodeHandler } from '../http/index.ts';
import type Router from '@koa/router';
import { createAccessLog, type Logger } from '../observability/index.ts';
import { LAYOUT_STYLE_HASH } from '../../views/layout.ts';
import { redactSecretPaths } from '../account/index.ts';


// `script-src 'self'` allows Tessera's own script files (/assets/passkeys.js,
// src/server/assets.ts) and no inline script, and gives oidc-provider a
// directive to add the hash of its one inline script to on the pages that
// submit themselves (form_post responses, the logout of a browser without a
// session); without the directive it adds nothing and the browser shows a
// blank page. `connect-src 'self'`: that script asks Tessera (and nothing
// else) for WebAuthn options. No `form-action`: Chromium applies it to the redirects
// after a submission too, and those end at each client's redirect_uri or
// post_logout_redirect_uri, which a site-wide list cannot name.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "connect-src 'self'",
  `style-src '${LAYOUT_STYLE_HASH}'`,
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Where the front door leaves the headers every answer must carry, for ResponseKeepingHeaders. */
const KEPT_HEADERS = Symbol('headers every answer keeps');

/**
 * The server's response class (src/server/listener.ts): it puts back the
 * headers the front door set when something removed them before the answer
 * was written. Koa does that on an error that escapes an app (its
 * ctx.onerror removes every header, then answers a plain 500): without this,
 * such an answer would go out without its security headers and request id.
 */
export class ResponseKeepingHeaders<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  [KEPT_HEADERS]?: ReadonlyArray<readonly [string, string]>;

  override writeHead(statusCode: number, ...rest: unknown[]): this {
    const kept = this[KEPT_HEADERS];
    if (kept && !this.headersSent) {
      for (const [name, value] of kept) if (!this.hasHeader(name)) this.setHeader(name, value);
    }
    return (ServerResponse.prototype.writeHead as (this: ServerResponse, ...args: unknown[]) => unknown).call(this, statusCode, ...rest) as this;
  }
}

export interface FrontDoorOptions {
  logger: Logger;
  https: boolean;
  /** true when the path belongs to Tessera's own routes (pages, admin API, health) */
  isTesseraPath: (path: string) => boolean;
  tessera: NodeHandler;
  provider: NodeHandler;
  /** once per response, with its raw path (src/observability/metrics.ts turns it into a bounded route label) */
  observeRequest?: (method: string | undefined, path: string, status: number, seconds: number) => void;
}

/**
 * What every response gets, done on Node's own request and response before
 * either Koa app sees them: a request id (echoed as X-Request-Id, read back by
 * the apps from the response), the security headers and one access-log line.
 * Then Tessera's own paths go to its Koa app and the protocol endpoints
 * straight to oidc-provider (a Koa app itself): running the provider inside an
 * outer Koa app would put a second middleware stack, context and response
 * handling on every token request.
 */
export function frontDoor(options: FrontDoorOptions): NodeHandler {
  const { https, isTesseraPath, tessera, provider, observeRequest } = options;
  const accessLog = createAccessLog(options.logger);
  const PLAIN_HEADERS: ReadonlyArray<readonly [string, string]> = [
    ['X-Content-Type-Options', 'nosniff'],
    ['Referrer-Policy', 'no-referrer'],
    ['X-Frame-Options', 'DENY'],
    ['Content-Security-Policy', CONTENT_SECURITY_POLICY],
  ];
  const HTTPS_HEADERS = [...PLAIN_HEADERS, ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'] as const];

  return (req, res) => {
    const started = process.hrtime.bigint();
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query); // query strings can carry codes and tokens
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();

    const headers = https ? HTTPS_HEADERS : PLAIN_HEADERS;
    res.setHeader('X-Request-Id', requestId);
    for (const [name, value] of headers) res.setHeader(name, value);
    if (res instanceof ResponseKeepingHeaders) res[KEPT_HEADERS] = [['X-Request-Id', requestId], ...headers];

    res.once('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      accessLog({ requestId, method: req.method ?? '', path: redactSecretPaths(path), status: res.statusCode, ms });
      observeRequest?.(req.method, path, res.statusCode, ms / 1000);
    });

    const handler = isTesseraPath(path) ? tessera : provider;
    // what the audit log records of every event this request causes, wherever it is recorded
    const context = { ip: clientAddressOf(req), userAgent: shortenedUserAgent(req.headers['user-agent']), requestId };
    Promise.resolve(runWithRequestContext(context, () => handler(req, res))).catch((error: Error) => {
      // both apps answer their own errors; this only catches a failure of the app itself
      options.logger.error({ requestId, err: { name: error.name, message: error.message, stack: error.stack } }, 'unhandled error');
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.end(JSON.stringify({ error: 'server_error', error_description: 'Something went wrong on our side.' }));
      } else {
        res.destroy();
      }
    });
  };
}

const firstSegmentOf = (path: string) => {
  const end = path.indexOf('/', 1);
  return (end === -1 ? path.slice(1) : path.slice(1, end)).toLowerCase();
};

/**
 * Whether a path belongs to one of `routers`, judged by its first segment
 * (case-insensitively, as the routers match). The segments are read from the
 * routers' own layers, so a route added to one of them is seen; a layer that
 * does not start with a literal segment (a parameter, a router.use() without
 * a path) claims every path, as if routing by segment were not there.
 */
export function claimedByRouters(routers: Router[]): (path: string) => boolean {
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
  return (path) => claimsEverything || claimed.has(firstSegmentOf(path));
}
