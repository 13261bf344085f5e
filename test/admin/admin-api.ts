// Helpers for admin API tests: tokens by client_credentials, and JSON calls.
import { readAdminCredentials } from '../../src/admin/index.ts';
import type { TestServer } from '../support/server.ts';

export interface Reply { status: number; headers: Headers; body: any }

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** An access token for the admin resource, by client_credentials with the given client (no scope: whatever it may have). */
export async function tokenFor(server: TestServer, clientId: string, clientSecret: string, scope?: string): Promise<string> {
  const res = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId, clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${server.issuer}/admin`, ...(scope ? { scope } : {}) }),
  });
  const body = await res.json() as { access_token?: string };
  if (!body.access_token) throw new Error(`no token: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** A token from the admin client the server wrote into its KEYS_DIR. */
export async function adminToken(server: TestServer): Promise<string> {
  const credentials = readAdminCredentials(server.config.keysDir, {})!;
  return tokenFor(server, credentials.client_id, credentials.client_secret, 'admin');
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
