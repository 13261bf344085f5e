/*
 * Getting real tokens out of a running Tessera for the token tests: the
 * authorization-code flow through the HTML pages (test/support/oauth.ts),
 * refresh, client_credentials, and the two endpoints resource servers call.
 */
import { expect } from '@jest/globals';
import { authorize, postAsClient, tokenRequest, type ClientCredentials } from '../support/oauth.ts';
import type { BrowserAgent } from '../support/browser-agent.ts';

export interface Tokens { access_token: string; refresh_token?: string; id_token?: string; scope?: string; token_type?: string }

export const REDIRECT_URI = 'https://app.example.test/callback';

/**
 * Signs `user` in at baseUrl, consents, redeems the code; resource (RFC 8707)
 * when given. The same agent (browser session) again means the same grant.
 */
export async function codeFlow(options: {
  baseUrl: string; client: ClientCredentials; user: { username: string; password: string };
  scope: string; resource?: string; agent?: BrowserAgent;
}): Promise<Tokens & { agent: BrowserAgent }> {
  const resourceParam: Record<string, string> = options.resource ? { resource: options.resource } : {};
  const result = await authorize({
    baseUrl: options.baseUrl,
    clientId: options.client.clientId,
    redirectUri: REDIRECT_URI,
    scope: options.scope,
    user: options.user,
    // offline_access is only granted with prompt=consent
    params: { prompt: 'consent', ...resourceParam },
    agent: options.agent,
  });
  expect(result.code).toBeDefined();
  const response = await tokenRequest(options.baseUrl, {
    grant_type: 'authorization_code',
    code: result.code!,
    redirect_uri: REDIRECT_URI,
    code_verifier: result.verifier,
    ...resourceParam,
  }, options.client);
  expect(response).toMatchObject({ status: 200 });
  return { ...(response.body as unknown as Tokens), agent: result.agent };
}

export async function refresh(baseUrl: string, client: ClientCredentials, refreshToken: string, resource?: string) {
  return tokenRequest(baseUrl, { grant_type: 'refresh_token', refresh_token: refreshToken, ...(resource ? { resource } : {}) }, client);
}

export async function clientCredentials(baseUrl: string, client: ClientCredentials, resource: string, scope: string): Promise<string> {
  const response = await tokenRequest(baseUrl, { grant_type: 'client_credentials', resource, scope }, client);
  expect(response).toMatchObject({ status: 200 });
  return response.body.access_token!;
}

/** POST a token to /token/introspection or /token/revocation as `caller`. */
export async function tokenEndpoint(
  baseUrl: string, endpoint: 'introspection' | 'revocation', caller: ClientCredentials,
  params: Record<string, string>, options: { post?: boolean } = {},
): Promise<{ status: number; headers: Headers; text: string; json: Record<string, unknown> | undefined }> {
  const { status, headers, text } = await postAsClient(`${baseUrl}/token/${endpoint}`, params, caller, { auth: options.post ? 'post' : 'basic' });
  let json: Record<string, unknown> | undefined;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status, headers, text, json };
}

/** The introspection answer (asserting a 200). */
export async function introspect(baseUrl: string, caller: ClientCredentials, token: string, hint?: string) {
  const res = await tokenEndpoint(baseUrl, 'introspection', caller, { token, ...(hint ? { token_type_hint: hint } : {}) });
  expect({ status: res.status, body: res.json }).toMatchObject({ status: 200 });
  return res.json as Record<string, unknown> & { active: boolean };
}

export async function revoke(baseUrl: string, caller: ClientCredentials, token: string, hint?: string) {
  return tokenEndpoint(baseUrl, 'revocation', caller, { token, ...(hint ? { token_type_hint: hint } : {}) });
}

export const isJwt = (token: string) => token.split('.').length === 3;
