// Helpers for admin API tests: tokens by client_credentials, and JSON calls.
import { readAdminCredentials } from '../../src/admin/index.ts';
import { accessTokenOf, tokenRequest, type ClientCredentials, type TokenResponse } from '../support/oauth.ts';
import type { TestServer } from '../support/server.ts';

export interface Reply { status: number; headers: Headers; body: any }

/** Where a deployment answers, and its issuer (which names the admin resource); issuer absent: the URL is the issuer. */
export interface Deployment { url: string; issuer?: string }

/** The client_credentials request for the admin resource (scope absent: none asked for, whatever the client may have). */
export function adminTokenRequest(at: Deployment, client: ClientCredentials, scope?: string): Promise<TokenResponse> {
  return tokenRequest(at.url, { grant_type: 'client_credentials', resource: `${at.issuer ?? at.url}/admin`, ...(scope ? { scope } : {}) }, client);
}

/** An access token for the admin resource; throws, naming the answer, when none is issued. */
export async function adminTokenFor(at: Deployment, client: ClientCredentials, scope?: string): Promise<string> {
  return accessTokenOf(await adminTokenRequest(at, client, scope));
}

/** A token from the admin client the server wrote into its KEYS_DIR. */
export async function adminToken(server: TestServer): Promise<string> {
  const credentials = readAdminCredentials(server.config.keysDir, {})!;
  return adminTokenFor(server, { clientId: credentials.client_id, clientSecret: credentials.client_secret }, 'admin');
}

/** Calls /admin/v1<path>; body objects are sent as JSON, strings as they are. */
export async function call(server: TestServer, token: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${server.url}/admin/v1${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON: keep the text */ }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** A grant as the provider stores it after a consent, for revocation tests. */
export async function createGrant(server: TestServer, accountId: string, clientId: string): Promise<string> {
  const grant = new server.provider.Grant({ accountId, clientId });
  grant.addOIDCScope('openid profile');
  return grant.save();
}
