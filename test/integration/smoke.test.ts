import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('a server on embedded defaults', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startTestServer(); });
  afterAll(async () => { await server?.stop(); });

  test('serves discovery with its issuer', async () => {
    const res = await fetch(`${server.url}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const body = await res.json() as { issuer: string; jwks_uri: string };
    expect(body.issuer).toBe(server.issuer);
  });

  test('client_credentials gives an ES256 at+jwt for a resource server', async () => {
    await server.services.resources.create({ identifier: 'https://api.example.test', scopes: ['read', 'write'] });
    const { clientId, clientSecret } = await server.createClient({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] });
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: 'https://api.example.test', scope: 'read write' }),
    });
    const body = await res.json() as { access_token: string; scope: string };
    expect(res.status).toBe(200);
    expect(body.scope).toBe('read');
    const header = JSON.parse(Buffer.from(body.access_token.split('.')[0], 'base64url').toString());
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
  });
});
