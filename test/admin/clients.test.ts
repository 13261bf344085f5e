import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tokenRequest } from '../support/oauth.ts';
import { adminToken, call, createGrant } from './admin-api.ts';

describe('admin clients', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await adminToken(server);
    await call(server, token, 'POST', '/resources', { identifier: 'https://orders.example', scopes: ['orders:read', 'orders:write'] });
  });
  afterAll(async () => { await server?.stop(); });

  /** orders:read by client_credentials, as the client with this id and secret */
  const ordersToken = (clientId: string, clientSecret: string) => tokenRequest(server.url, {
    grant_type: 'client_credentials', resource: 'https://orders.example', scope: 'orders:read',
  }, { clientId, clientSecret });

  test('create → 201 with client_id and, once, client_secret; the client works', async () => {
    const res = await call(server, token, 'POST', '/clients', {
      name: 'orders worker', grant_types: ['client_credentials'], scopes: ['orders:read'], introspect_for: ['https://orders.example'],
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'orders worker', grant_types: ['client_credentials'], scopes: ['orders:read'], public: false, introspect_for: ['https://orders.example'] });
    expect(res.body.client_secret).toEqual(expect.any(String));
    expect((await ordersToken(res.body.client_id, res.body.client_secret)).status).toBe(200);

    const one = await call(server, token, 'GET', `/clients/${res.body.client_id}`);
    expect(one.status).toBe(200);
    expect(one.body).not.toHaveProperty('client_secret');
    expect(JSON.stringify(one.body)).not.toContain(res.body.client_secret);
    const list = await call(server, token, 'GET', '/clients?limit=200');
    expect(list.body.items.map((c: { client_id: string }) => c.client_id)).toContain(res.body.client_id);
    expect(JSON.stringify(list.body)).not.toMatch(/"client_secret"|secret_digest/);
  });

  test('a public first-party client has no secret', async () => {
    const res = await call(server, token, 'POST', '/clients', {
      name: 'spa', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://app.example/callback'],
      scopes: ['openid', 'profile', 'offline_access'], public: true, first_party: true,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ public: true, first_party: true, token_endpoint_auth_method: 'none' });
    expect(res.body).not.toHaveProperty('client_secret');
  });

  test('require_mfa: absent is false; set at creation, taken away by PATCH (audited by name); only a boolean', async () => {
    const plain = await call(server, token, 'POST', '/clients', { name: 'plain web', grant_types: ['authorization_code'], redirect_uris: ['https://plain.example/cb'], scopes: ['openid'] });
    expect(plain.status).toBe(201);
    expect(plain.body.require_mfa).toBe(false);
    const strict = await call(server, token, 'POST', '/clients', {
      name: 'strict web', grant_types: ['authorization_code'], redirect_uris: ['https://strict.example/cb'], scopes: ['openid'], require_mfa: true,
    });
    expect(strict.status).toBe(201);
    expect(strict.body.require_mfa).toBe(true);
    expect((await call(server, token, 'GET', `/clients/${strict.body.client_id}`)).body.require_mfa).toBe(true);
    // a PATCH of something else keeps it
    expect((await call(server, token, 'PATCH', `/clients/${strict.body.client_id}`, { name: 'strict web 2' })).body.require_mfa).toBe(true);
    const relaxed = await call(server, token, 'PATCH', `/clients/${strict.body.client_id}`, { require_mfa: false });
    expect(relaxed.status).toBe(200);
    expect(relaxed.body.require_mfa).toBe(false);
    const events = await call(server, token, 'GET', `/audit?type=client.updated&subject=${strict.body.client_id}`);
    const last = events.body.items?.find((e: { subject: string; details: { fields: string[] } }) => e.subject === strict.body.client_id && e.details.fields.includes('require_mfa'));
    expect(last?.details).toMatchObject({ fields: ['require_mfa'], require_mfa: false });
    const bad = await call(server, token, 'POST', '/clients', { name: 'x', grant_types: ['client_credentials'], require_mfa: 'yes' });
    expect(bad.status).toBe(400);
  });

  test('metadata the provider refuses → 400 naming the problem', async () => {
    const res = await call(server, token, 'POST', '/clients', { name: 'web', grant_types: ['authorization_code'] });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('redirect_uris');
    expect(res.body.detail).toMatch(/redirect_uris/);
    const bogusGrant = await call(server, token, 'POST', '/clients', { name: 'x', grant_types: ['made_up'] });
    expect(bogusGrant.status).toBe(400);
    expect(bogusGrant.body.errors[0].field).toBe('grant_types');
    const contradiction = await call(server, token, 'POST', '/clients', { name: 'x', grant_types: ['client_credentials'], public: true, token_endpoint_auth_method: 'client_secret_post' });
    expect(contradiction.status).toBe(400);
  });

  test('delete → 404 afterwards, its grants revoked, its secret useless', async () => {
    const created = (await call(server, token, 'POST', '/clients', { name: 'doomed', grant_types: ['client_credentials'], scopes: ['orders:read'] })).body;
    const user = await server.createUser({ username: 'dave', password: 'dave password' });
    const grantId = await createGrant(server, user.id, created.client_id);

    const res = await call(server, token, 'DELETE', `/clients/${created.client_id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ deleted: true, revoked_grants: 1 });
    expect(await server.provider.Grant.find(grantId)).toBeUndefined();
    expect((await call(server, token, 'GET', `/clients/${created.client_id}`)).status).toBe(404);
    expect((await call(server, token, 'DELETE', `/clients/${created.client_id}`)).status).toBe(404);
    expect((await ordersToken(created.client_id, created.client_secret)).status).toBe(401);
  });

  test('the admin client cannot delete itself', async () => {
    const res = await call(server, token, 'DELETE', '/clients/tessera-admin');
    expect(res.status).toBe(409);
  });
});
