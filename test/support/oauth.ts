import { createHash, randomBytes } from 'node:crypto';
import { BrowserAgent, formWithButton, headingOf, parseForms, type PageResponse } from './browser-agent.ts';

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export const basicAuth = (clientId: string, clientSecret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;

export interface TokenResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & {
    access_token?: string; refresh_token?: string; id_token?: string; scope?: string;
    error?: string; error_description?: string;
  };
}

/** POST to /token (form encoded), with client_secret_basic when a secret is given. */
export async function tokenRequest(
  baseUrl: string,
  params: Record<string, string>,
  client: { clientId: string; clientSecret?: string },
): Promise<TokenResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const body = new URLSearchParams(params);
  if (client.clientSecret) headers.authorization = basicAuth(client.clientId, client.clientSecret);
  else body.set('client_id', client.clientId);
  const res = await fetch(`${baseUrl}/token`, { method: 'POST', headers, body });
  const text = await res.text();
  let parsed: TokenResponse['body'];
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`/token answered ${res.status} with a body that is not JSON: ${text.slice(0, 300)}`);
  }
  return { status: res.status, headers: res.headers, body: parsed };
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
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(12).toString('base64url');
  const url = new URL('/auth', options.baseUrl);
  const params: Record<string, string> = {
    client_id: options.clientId,
    response_type: 'code',
    redirect_uri: options.redirectUri,
    scope: options.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...options.params,
  };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);

  const driven = await driveAuthorization(agent, url.href, options);
  return { ...driven, state, verifier };
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
