import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tokenRequest } from '../support/oauth.ts';

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
    const svc = await server.createClient({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] });
    const res = await tokenRequest(server.url, { grant_type: 'client_credentials', resource: 'https://api.example.test', scope: 'read write' }, svc);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('read');
    const header = JSON.parse(Buffer.from(res.body.access_token!.split('.')[0], 'base64url').toString());
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
  });
});
