import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { passwordGrant } from '../support/oauth.ts';
import { adminToken, adminTokenFor, call } from './admin-api.ts';
import { clientCredentials, introspect } from '../tokens/token-flows.ts';

const API = 'https://api.deleted-clients.test';

describe('a deleted client', () => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await adminToken(server);
    await server.services.resources.create({ identifier: API, scopes: ['read'] });
  });
  afterAll(async () => { await server?.stop(); });

  test('its client_credentials JWTs introspect inactive once it is deleted', async () => {
    const job = await server.createClient({ name: 'job', grantTypes: ['client_credentials'], scopes: ['read'] });
    const introspector = await server.createClient({ name: 'api', grantTypes: ['client_credentials'], introspectFor: [API] });
    const token = await clientCredentials(server.url, job, API, 'read');
    expect((await introspect(server.url, introspector, token))).toMatchObject({ active: true, client_id: job.clientId });

    expect((await call(server, admin, 'DELETE', `/clients/${encodeURIComponent(job.clientId)}`)).status).toBe(200);
    expect((await introspect(server.url, introspector, token))).toEqual({ active: false });
  });

  test('its admin tokens stop working on the admin API', async () => {
    const second = await server.createClient({ name: 'second admin', grantTypes: ['client_credentials'], scopes: ['admin'] });
    const token = await adminTokenFor(server, second, 'admin');
    expect((await call(server, token, 'GET', '/users')).status).toBe(200);
    expect((await call(server, admin, 'DELETE', `/clients/${encodeURIComponent(second.clientId)}`)).status).toBe(200);
    const after = await call(server, token, 'GET', '/users');
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });
});

describe('the admin scope', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startTestServer(); });
  afterAll(async () => { await server?.stop(); });

  test('is never granted through the password grant, even to a first-party client allowed it', async () => {
    const app = await server.createClient({ name: 'app', grantTypes: ['password'], firstParty: true, scopes: ['admin', 'openid'] });
    await server.createUser({ username: 'mallory', password: 'correct horse battery' });
    const res = await passwordGrant(server.url, app, { username: 'mallory', password: 'correct horse battery', resource: `${server.issuer}/admin`, scope: 'admin' });
    const { body } = res;
    if (body.access_token) {
      expect(body.scope ?? '').not.toContain('admin');
      expect((await call(server, body.access_token, 'GET', '/users')).status).toBe(403);
    } else {
      expect(res.status).toBe(400);
    }
  });
});
