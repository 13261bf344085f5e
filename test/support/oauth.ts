// The tests' OAuth client: the one place that makes token requests (tokenRequest
// and the small wrappers beside it), PKCE, and the authorization code flow
// through the real pages. No jest here: bench/ uses it too.
import { createHash, randomBytes } from 'node:crypto';
import { BrowserAgent, formWithButton, headingOf, parseForms, type PageResponse } from './browser-agent.ts';

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** A client as the token endpoints know it: a secret for a confidential client, none for a public one. */
export interface ClientCredentials { clientId: string; clientSecret?: string }

/** The client_secret_basic header (RFC 6749 §2.3.1: both parts form-encoded first). */
export function basicAuth(client: ClientCredentials): string {
  if (client.clientSecret === undefined) throw new Error(`basicAuth: client ${client.clientId} has no secret`);
  return `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64')}`;
}

export interface FormAnswer { status: number; headers: Headers; text: string }

/**
 * POSTs a form to `url` as `client`: client_secret_basic when it has a secret
 * (client_secret_post with `auth: 'post'`), its client_id in the body when it
 * has none. A parameter given as a list is sent once per value.
 */
export async function postAsClient(
  url: string,
  params: Record<string, string | string[]>,
  client: ClientCredentials,
  options: { auth?: 'basic' | 'post'; headers?: Record<string, string> } = {},
): Promise<FormAnswer> {
  const body = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) body.append(key, v);
  }
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...options.headers };
  if (client.clientSecret && options.auth !== 'post') headers.authorization = basicAuth(client);
  else {
    body.set('client_id', client.clientId);
    if (client.clientSecret) body.set('client_secret', client.clientSecret);
  }
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export interface TokenResponse extends FormAnswer {
  body: Record<string, unknown> & {
    access_token?: string; refresh_token?: string; id_token?: string; scope?: string; token_type?: string;
    expires_in?: number; error?: string; error_description?: string;
  };
}

/** POST to /token (see postAsClient); every answer of the token endpoint is JSON, anything else throws. */
export async function tokenRequest(
  baseUrl: string,
  params: Record<string, string | string[]>,
  client: ClientCredentials,
  headers: Record<string, string> = {},
): Promise<TokenResponse> {
  const answer = await postAsClient(`${baseUrl}/token`, params, client, { headers });
  let body: TokenResponse['body'];
  try {
    body = JSON.parse(answer.text);
  } catch {
    throw new Error(`/token answered ${answer.status} with a body that is not JSON: ${answer.text.slice(0, 300)}`);
  }
  return { ...answer, body };
}

/** The access token of a 200 answer; anything else throws, naming the answer. */
export function accessTokenOf(response: TokenResponse): string {
  if (response.status !== 200 || typeof response.body.access_token !== 'string') {
    throw new Error(`no token: ${response.status} ${response.text.slice(0, 300)}`);
  }
  return response.body.access_token;
}

/** grant_type=password; scope and resource only when given. */
export function passwordGrant(
  baseUrl: string,
  client: ClientCredentials,
  params: { username: string; password: string; scope?: string; resource?: string | string[] },
  headers?: Record<string, string>,
): Promise<TokenResponse> {
  const form: Record<string, string | string[]> = { grant_type: 'password', username: params.username, password: params.password };
  if (params.scope !== undefined) form.scope = params.scope;
  if (params.resource !== undefined) form.resource = params.resource;
  return tokenRequest(baseUrl, form, client, headers);
}

export type PageKind = 'login' | 'consent';

export interface AuthorizeOptions {
  baseUrl: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  /** extra authorization parameters (prompt, resource, nonce, ...) */
  params?: Record<string, string>;
  /** credentials for the login page; without them reaching the login page throws */
  user?: { username: string; password: string };
  /** what to press on the consent page (default Allow) */
  consent?: 'Allow' | 'Deny';
  agent?: BrowserAgent;
}

export interface AuthorizeResult {
  agent: BrowserAgent;
  /** the redirect to redirect_uri, parsed */
  callback: URL;
  code?: string;
  state: string;
  verifier: string;
  /** the pages shown on the way, in order */
  pages: PageKind[];
  /** the HTML of each page shown, in order */
  html: string[];
}

function kindOf(page: PageResponse): PageKind {
  const forms = parseForms(page.text);
  if (forms.some((f) => 'username' in f.fields || f.buttons.includes('Sign in'))) return 'login';
  if (forms.some((f) => f.buttons.includes('Allow'))) return 'consent';
  throw new Error(`unexpected page ${page.status} at ${page.url} (${headingOf(page.text)}):\n${page.text.slice(0, 1500)}`);
}

/**
 * Authorization code + PKCE through the real pages: GET /auth, follow the
 * redirects, sign in and consent through the HTML forms, stop at the redirect
 * to redirect_uri (which is not requested).
 */
export async function authorize(options: AuthorizeOptions): Promise<AuthorizeResult> {
  const agent = options.agent ?? new BrowserAgent();
  const { url, state, verifier } = authorizationRequest(options);
  const driven = await driveAuthorization(agent, url, options);
  return { ...driven, state, verifier };
}

/**
 * An authorization code request with PKCE (S256) and a fresh state (`params`
 * add to or replace those): its URL, and what finishing it takes.
 */
export function authorizationRequest(options: Pick<AuthorizeOptions, 'baseUrl' | 'clientId' | 'redirectUri' | 'scope' | 'params'>):
  { url: string; state: string; verifier: string } {
  const { verifier, challenge } = pkcePair();
  const url = new URL('/auth', options.baseUrl);
  const params: Record<string, string> = {
    client_id: options.clientId,
    response_type: 'code',
    redirect_uri: options.redirectUri,
    scope: options.scope,
    state: randomBytes(12).toString('base64url'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...options.params,
  };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return { url: url.href, state: params.state, verifier };
}

/**
 * Follows an authorization URL built by anyone (a client library, say) through
 * the login and consent pages to the redirect to redirect_uri.
 */
export async function driveAuthorization(
  agent: BrowserAgent,
  authorizationUrl: string,
  options: Pick<AuthorizeOptions, 'redirectUri' | 'user' | 'consent'>,
): Promise<Omit<AuthorizeResult, 'state' | 'verifier'>> {
  const stopAt = (location: string) => location.startsWith(options.redirectUri);
  let step = await agent.follow(authorizationUrl, {}, stopAt);
  const pages: PageKind[] = [];
  const html: string[] = [];
  while (!step.stoppedAt) {
    if (pages.length > 4) throw new Error(`no redirect to the client after pages ${pages.join(', ')}`);
    const page = step.response;
    const kind = kindOf(page);
    pages.push(kind);
    html.push(page.text);
    if (kind === 'login') {
      if (!options.user) throw new Error('the login page was shown, and no user was given');
      step = await agent.submit(page, formWithButton(page.text, 'Sign in'), options.user, stopAt);
    } else {
      step = await agent.submit(page, formWithButton(page.text, options.consent ?? 'Allow'), {}, stopAt);
    }
  }
  const callback = new URL(step.stoppedAt);
  return { agent, callback, code: callback.searchParams.get('code') ?? undefined, pages, html };
}
