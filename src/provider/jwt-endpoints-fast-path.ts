import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { parse as parseForm } from 'node:querystring';
import { decodeProtectedHeader } from 'jose';
import { errors, type Client, type default as Provider } from 'oidc-provider';
import type { JwtAccessTokenAnswers } from './jwt-access-tokens.ts';
import { isStoreUnavailable, RETRY_AFTER_SECONDS, unavailableOAuthError } from '../http/index.ts';

/*
 * Introspection and revocation of JWT access tokens, answered before the
 * provider when the request is the common, simple case: a confidential
 * client authenticating with its secret (Basic or in the body), a JWT, no
 * parameter twice, nothing else. The provider refuses JWTs at both endpoints
 * with an exception, after its whole pipeline, and only then could Tessera
 * answer (jwt-access-tokens.ts): together about half the time of the request.
 *
 * Anything else, and every failure (bad secret, unknown client, expired
 * secret, malformed header), goes to the provider unchanged, body included,
 * so every error answer stays the provider's own. Only success is answered
 * here, with the same rules (answers.introspection / answers.revocation).
 */

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** a form in UTF-8 (stated or implied); any other charset is left to the provider's decoding */
const UTF8_FORM = /^application\/x-www-form-urlencoded\s*(;\s*charset="?utf-8"?\s*)?$/i;
const BODY_LIMIT = 56 * 1024; // the provider's own limit
/**
 * A body this short cannot hold one of our JWT access tokens (an ES256
 * at+jwt with its claims is over 300 characters), so it goes to the provider
 * unread: opaque tokens pay nothing for the fast path. Routing only: a short
 * JWT would get the same answer from the provider path.
 */
const SHORTEST_JWT_BODY = 300;
/** client_id and client_secret: visible ASCII only, as the provider requires */
const VSCHAR = /^[\x20-\x7E]+$/;
/** headers that ask for more than the simple case (CORS, DPoP, attestation); a tls_client_auth client has no secret, so never takes this path */
const DEFER_HEADERS = ['origin', 'dpop', 'oauth-client-attestation', 'oauth-client-attestation-pop'];

interface Credentials { clientId: string; clientSecret: string }

/**
 * The provider's own test of the Basic credentials' base64 (isValidBase64 in
 * oidc-provider's lib/shared/client_auth.js): the standard alphabet, padding
 * only as much as the length needs, no length that leaves a lone character.
 * Buffer.from decodes far more (a dangling character, wrong padding), so a
 * header that only Buffer.from would read must reach the provider, which
 * refuses it with invalid_request.
 */
function isValidBase64(input: string): boolean {
  const match = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(input);
  const [, data, padding] = match ?? [];
  if (!data) return false;
  const remainder = data.length % 4;
  if (!padding) return remainder !== 1;
  return (data.length + padding.length) % 4 === 0 && padding.length === 4 - remainder;
}

function decodeAuthToken(value: string): string | undefined {
  try {
    const decoded = decodeURIComponent(value.replace(/\+/g, '%20'));
    return VSCHAR.test(decoded) ? decoded : undefined;
  } catch {
    return undefined;
  }
}

/**
 * client_secret_basic (RFC 6749 §2.3.1) or client_secret_post credentials, when
 * exactly one is given. The Basic header is read step by step as the provider
 * reads it (authenticateClient in lib/shared/client_auth.js): one space, the
 * scheme in any case, base64 as above, a colon, percent-decoding with '+' as a
 * space, visible ASCII only; at the first step the provider would refuse, the
 * answer is undefined and the request goes to the provider.
 */
function credentialsOf(authorization: string | undefined, params: Record<string, string>): Credentials | undefined {
  if (params.client_assertion !== undefined || params.client_assertion_type !== undefined) return undefined;
  if (authorization !== undefined) {
    if (params.client_secret !== undefined) return undefined;
    const [scheme, encoded, extra] = authorization.split(' ');
    if (extra !== undefined || scheme?.toLowerCase() !== 'basic' || !encoded || !isValidBase64(encoded)) return undefined;
    const basic = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = basic.indexOf(':');
    if (colon === -1) return undefined;
    const clientId = decodeAuthToken(basic.slice(0, colon));
    const clientSecret = decodeAuthToken(basic.slice(colon + 1));
    if (!clientId || !clientSecret) return undefined;
    if (params.client_id !== undefined && params.client_id !== clientId) return undefined;
    return { clientId, clientSecret };
  }
  const { client_id: clientId, client_secret: clientSecret } = params;
  if (!clientId || !clientSecret) return undefined;
  return { clientId, clientSecret };
}

async function authenticated(provider: Provider, credentials: Credentials): Promise<Client | undefined> {
  const client = await provider.Client.find(credentials.clientId);
  if (!client) return undefined;
  // the provider accepts either secret method for a client registered with one of them
  if (client.clientAuthMethod !== 'client_secret_basic' && client.clientAuthMethod !== 'client_secret_post') return undefined;
  try {
    (client as unknown as { checkClientSecretExpiration(message: string): void }).checkClientSecretExpiration('expired');
  } catch {
    return undefined;
  }
  return (await client.compareClientSecret(credentials.clientSecret)) ? client : undefined;
}

function isJwt(token: string): boolean {
  try {
    return !!decodeProtectedHeader(token); // the provider's own test (reject_structured_tokens)
  } catch {
    return false;
  }
}

/** Single-valued form parameters; undefined when any parameter is repeated. */
function singleValued(body: Buffer): Record<string, string> | undefined {
  const parsed = parseForm(body.toString('utf8'));
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') return undefined;
    params[name] = value;
  }
  return params;
}

/** The whole body (events rather than an async iterator: cheaper for a few hundred bytes). */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => { chunks.push(chunk); });
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.once('error', reject);
    req.once('close', () => { if (!req.complete) reject(new Error('request aborted')); });
  });
}

/**
 * The request as the provider would have received it: a stream of the body
 * already read, with the original's headers, method, URL and socket.
 */
function replayed(req: IncomingMessage, body: Buffer): IncomingMessage {
  const replay = Readable.from(body.length ? [body] : [], { objectMode: false }) as unknown as Record<string, unknown>;
  for (const key of ['headers', 'rawHeaders', 'trailers', 'rawTrailers', 'method', 'url', 'httpVersion', 'httpVersionMajor', 'httpVersionMinor', 'socket', 'complete'] as const) {
    replay[key] = req[key];
  }
  replay.connection = req.socket;
  return replay as unknown as IncomingMessage;
}

function send(res: ServerResponse, status: number, body?: Record<string, unknown>): void {
  res.statusCode = status;
  if (status === 503) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  // as the provider: introspection answers are no-store, its empty revocation answer has no Cache-Control
  if (body) res.setHeader('Cache-Control', 'no-store');
  if (body) {
    const json = JSON.stringify(body);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(json));
    res.end(json);
  } else {
    res.setHeader('Content-Length', 0);
    res.end();
  }
}

export function jwtEndpointsFastPath(deps: { provider: Provider; answers: JwtAccessTokenAnswers; next: NodeHandler }): NodeHandler {
  const { provider, answers, next } = deps;
  const routes = new Map([
    [provider.pathFor('introspection'), 'introspection'],
    [provider.pathFor('revocation'), 'revocation'],
  ]);

  return async (req, res) => {
    const route = req.method === 'POST' ? routes.get(req.url ?? '') : undefined;
    if (!route) return next(req, res); // every other request, first and at the least cost
    const length = Number(req.headers['content-length']);
    if (!UTF8_FORM.test(req.headers['content-type'] ?? '') || !(length >= SHORTEST_JWT_BODY && length <= BODY_LIMIT) || DEFER_HEADERS.some((h) => req.headers[h] !== undefined)) {
      return next(req, res);
    }

    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      res.destroy(); // the client went away mid-body
      return;
    }
    const params = singleValued(body);
    const token = params?.token;
    try {
      const credentials = params && token && isJwt(token) ? credentialsOf(req.headers.authorization, params) : undefined;
      const caller = credentials && await authenticated(provider, credentials);
      if (!caller) return next(replayed(req, body), res);

      if (route === 'introspection') return send(res, 200, await answers.introspection(caller, token!));
      await answers.revocation(caller, token!);
      return send(res, 200);
    } catch (error) {
      // another client's token at revocation: the provider words that refusal itself
      if (error instanceof errors.InvalidRequest) return next(replayed(req, body), res);
      if (isStoreUnavailable(error)) {
        return send(res, 503, unavailableOAuthError());
      }
      throw error; // logged by the front door, answered with a generic 500
    }
  };
}
