import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

/**
 * The client side of the authorization code flow with PKCE, as a native app
 * does it (RFC 8252): what `tessera try` needs and nothing more. Every
 * failure is an Error whose message can be shown as it is.
 */

export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint?: string;
}

export interface ClientCredentials {
  clientId: string;
  /** absent: a public client (client_id in the body, no authentication) */
  clientSecret?: string;
}

export interface TokenSet {
  access_token: string;
  token_type: string;
  expires_in?: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
}

const random = () => randomBytes(32).toString('base64url');

/** A fresh verifier and its S256 challenge (RFC 7636 §4.1–4.2). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = random();
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** Fresh values for one request: PKCE, state (CSRF, RFC 6749 §10.12) and nonce (ID token replay). */
export function requestSecrets() {
  return { ...pkce(), state: random(), nonce: random() };
}

async function fetchJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    throw new Error(`cannot reach ${new URL(url).origin} (${cause?.code ?? (error as Error).message}); is ISSUER right and the server running?`);
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    throw new Error(`${url} answered ${res.status} with something that is not JSON`);
  }
}

export async function discover(issuer: string): Promise<Discovery> {
  const { status, body } = await fetchJson(`${issuer}/.well-known/openid-configuration`);
  for (const field of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
    if (status !== 200 || typeof body[field] !== 'string') throw new Error(`${issuer} has no usable discovery document (${field} missing)`);
  }
  // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for
  if (body.issuer !== issuer) throw new Error(`the discovery document at ${issuer} names another issuer: ${body.issuer}`);
  return body as unknown as Discovery;
}

export function authorizationUrl(discovery: Discovery, request: {
  clientId: string; redirectUri: string; scope: string; state: string; nonce: string; challenge: string;
  prompt?: string; resource?: string;
}): string {
  const url = new URL(discovery.authorization_endpoint);
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: request.clientId,
    redirect_uri: request.redirectUri,
    scope: request.scope,
    state: request.state,
    nonce: request.nonce,
    code_challenge: request.challenge,
    code_challenge_method: 'S256',
    prompt: request.prompt,
    resource: request.resource,
  };
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  return url.href;
}

/** Form encoding inside Basic credentials (RFC 6749 §2.3.1). */
const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');

export async function exchangeCode(discovery: Discovery, client: ClientCredentials, exchange: {
  code: string; redirectUri: string; verifier: string; resource?: string;
}): Promise<TokenSet> {
  const body = new URLSearchParams({
    grant_type: 'authorization_code', code: exchange.code, redirect_uri: exchange.redirectUri, code_verifier: exchange.verifier,
  });
  if (exchange.resource) body.set('resource', exchange.resource);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (client.clientSecret === undefined) body.set('client_id', client.clientId);
  else headers.authorization = `Basic ${Buffer.from(`${formEncode(client.clientId)}:${formEncode(client.clientSecret)}`).toString('base64')}`;
  const answer = await fetchJson(discovery.token_endpoint, { method: 'POST', headers, body });
  if (answer.status !== 200 || typeof answer.body.access_token !== 'string') {
    const { error, error_description: description } = answer.body;
    throw new Error(`the token endpoint refused the code: ${error ?? `HTTP ${answer.status}`}${description ? ` (${description})` : ''}`);
  }
  return answer.body as unknown as TokenSet;
}

export interface VerifiedToken { claims: JWTPayload; alg: string; kid?: string }

/**
 * Checks the ID token as a relying party must (OIDC Core §3.1.3.7): the
 * signature against the issuer's published keys, iss, aud, exp, and that
 * its nonce is the one this request sent.
 */
export async function verifyIdToken(discovery: Discovery, idToken: string, expected: { clientId: string; nonce: string }): Promise<VerifiedToken> {
  const keys = createRemoteJWKSet(new URL(discovery.jwks_uri));
  let verified;
  try {
    verified = await jwtVerify(idToken, keys, { issuer: discovery.issuer, audience: expected.clientId });
  } catch (error) {
    throw new Error(`the ID token did not verify against ${discovery.jwks_uri}: ${(error as Error).message}`);
  }
  if (verified.payload.nonce !== expected.nonce) throw new Error('the ID token carries another nonce than the request: it was not issued for this sign-in');
  return { claims: verified.payload, alg: verified.protectedHeader.alg, kid: verified.protectedHeader.kid };
}

/** A JWT access token (RFC 9068, issued for a resource) verified against the same keys; undefined for an opaque one. */
export async function verifyJwtAccessToken(discovery: Discovery, accessToken: string, resource: string): Promise<VerifiedToken | undefined> {
  if (accessToken.split('.').length !== 3) return undefined;
  const keys = createRemoteJWKSet(new URL(discovery.jwks_uri));
  try {
    const verified = await jwtVerify(accessToken, keys, { issuer: discovery.issuer, audience: resource, typ: 'at+jwt' });
    return { claims: verified.payload, alg: verified.protectedHeader.alg, kid: verified.protectedHeader.kid };
  } catch (error) {
    throw new Error(`the access token did not verify against ${discovery.jwks_uri}: ${(error as Error).message}`);
  }
}

/** The claims the UserInfo endpoint gives for the access token (the ID token holds only sub when an access token is issued). */
export async function fetchUserinfo(discovery: Discovery, accessToken: string): Promise<Record<string, unknown>> {
  if (!discovery.userinfo_endpoint) throw new Error('the discovery document names no userinfo_endpoint');
  const { status, body } = await fetchJson(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } });
  if (status !== 200) throw new Error(`the UserInfo endpoint refused the access token: ${body.error ?? `HTTP ${status}`}`);
  return body;
}
