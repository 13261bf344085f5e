import type { IncomingMessage } from 'node:http';
import { parse as parseForm } from 'node:querystring';
import { decodeJwt } from 'jose';
import type { RateLimitsConfig } from '../config/index.ts';
import { answerRateLimitedJson, consumeOrAllow, createRateLimiter, bufferedBodyOf, replayedRequest, type NodeHandler, type RateLimiter, type SharedCounters } from '../http/index.ts';

/*
 * The limits per client at the token, introspection and revocation endpoints
 * (tokenPerClient, introspectionPerClient, revocationPerClient), before the
 * JWT fast path and the provider, on Node's request.
 *
 * The client is known for certain only once it has authenticated, deep in
 * the provider's route, and a request refused after that would already have
 * used its code or rotated its refresh token. So the slot is taken before,
 * for the client the request names (the Basic credentials' client_id, or the
 * body's client_id / assertion subject next to a secret or assertion), and
 * given back when the answer is 401 (the client did not authenticate): a
 * stranger's requests naming a client cost it nothing once answered. While
 * such a request is in flight its slot is held; the per-address limit on
 * /token bounds how many a stranger has in flight.
 *
 * Requests that carry no client credentials (public clients, client_id only)
 * are limited per address only: anyone can name a public client.
 */

type ClientRule = 'tokenPerClient' | 'introspectionPerClient' | 'revocationPerClient';

const RULE_OF_PATH: Record<string, ClientRule> = {
  '/token': 'tokenPerClient',
  '/token/introspection': 'introspectionPerClient',
  '/token/revocation': 'revocationPerClient',
};

/** the provider's own body limit: a larger body is refused by it anyway */
const BODY_LIMIT = 56 * 1024;
const FORM = /^application\/x-www-form-urlencoded\b/i;

/** The client_id of Basic credentials (RFC 6749 §2.3.1 encoding); undefined when there is none. */
export function basicClientId(authorization: string | undefined): string | undefined {
  if (!authorization || authorization.length < 7 || authorization.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, '%20'));
  } catch {
    return undefined;
  }
}

/** The client a form names next to its credentials; undefined without credentials (a public client) or any client. */
export function claimedClientOfForm(params: Record<string, string | string[] | undefined>): string | undefined {
  const single = (value: string | string[] | undefined) => (typeof value === 'string' ? value : undefined);
  const clientId = single(params.client_id);
  if (single(params.client_secret) !== undefined) return clientId;
  const assertion = single(params.client_assertion);
  if (assertion !== undefined) {
    if (clientId) return clientId;
    try {
      const { sub } = decodeJwt(assertion); // unverified: only names whose slot is taken (and given back on 401)
      return typeof sub === 'string' ? sub : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The body read whole (at most `limit` bytes: undefined beyond), for a replay to the next handler. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length <= limit) chunks.push(chunk);
    });
    req.once('end', () => resolve(length > limit ? undefined : Buffer.concat(chunks)));
    req.once('error', reject);
    req.once('close', () => { if (!req.complete) reject(new Error('request aborted')); });
  });
}

export function createClientRateLimits(options: {
  rules: RateLimitsConfig;
  counters: SharedCounters;
  onStoreError: (error: Error) => void;
}): { guard(handler: NodeHandler): NodeHandler } {
  const limiters = new Map<ClientRule, RateLimiter>();
  for (const name of ['tokenPerClient', 'introspectionPerClient', 'revocationPerClient'] as const) {
    const rule = options.rules[name];
    if (rule) limiters.set(name, createRateLimiter({ name, rule, counters: options.counters }));
  }

  const limited = async (limiter: RateLimiter, rule: ClientRule, clientId: string, req: IncomingMessage, res: Parameters<NodeHandler>[1], handler: NodeHandler) => {
    const decision = await consumeOrAllow(limiter, clientId, options.onStoreError);
    if (decision && !decision.allowed) return answerRateLimitedJson(res, req, rule, decision);
    // a request that did not authenticate the client it names does not count against that client
    if (decision) res.once('finish', () => { if (res.statusCode === 401) decision.refund(); });
    return handler(req, res);
  };

  return {
    guard(handler) {
      if (limiters.size === 0) return handler;
      return async (req, res) => {
        const url = req.url ?? '/';
        const query = url.indexOf('?');
        const rule = req.method === 'POST' ? RULE_OF_PATH[(query === -1 ? url : url.slice(0, query)).toLowerCase()] : undefined;
        const limiter = rule && limiters.get(rule);
        if (!limiter) return handler(req, res);
        const fromBasic = basicClientId(req.headers.authorization);
        if (fromBasic !== undefined) return limited(limiter, rule!, fromBasic, req, res, handler);
        if (req.headers.authorization !== undefined || !FORM.test(req.headers['content-type'] ?? '')) return handler(req, res);
        // the client is named in the body: the input limits have read it already (a replay carries
        // its bytes); otherwise read it once and hand a replay on
        const buffered = bufferedBodyOf(req);
        if (buffered !== undefined && buffered.length <= BODY_LIMIT) {
          const claimed = claimedClientOfForm(parseForm(buffered.toString('utf8')));
          return claimed === undefined ? handler(req, res) : limited(limiter, rule!, claimed, req, res, handler);
        }
        let body: Buffer | undefined;
        try {
          body = await readBody(req, BODY_LIMIT);
        } catch {
          res.destroy(); // the client went away mid-body
          return;
        }
        if (body === undefined) {
          res.statusCode = 413;
          res.setHeader('Content-Type', 'application/json; charset=utf-8');
          res.end(JSON.stringify({ error: 'invalid_request', error_description: 'request body too large' }));
          return;
        }
        const clientId = claimedClientOfForm(parseForm(body.toString('utf8')));
        const replay = replayedRequest(req, body);
        if (clientId === undefined) return handler(replay, res);
        return limited(limiter, rule!, clientId, replay, res, handler);
      };
    },
  };
}
