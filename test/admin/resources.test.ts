import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminToken, call } from './admin-api.ts';

describe('admin resources', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await adminToken(server);
  });
  afterAll(async () => { await server?.stop(); });

  const path = (identifier: string) => `/resources/${encodeURIComponent(identifier)}`;

  test('create → 201; 409 when it exists; get; list; delete', async () => {
    const body = { identifier: 'https://billing.example/api', name: 'Billing', scopes: ['invoices:read'], token_format: 'opaque', access_token_ttl: 300 };
    const created = await call(server, token, 'POST', '/resources', body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject(body);

    const again = await call(server, token, 'POST', '/resources', body);
    expect(again.status).toBe(409);
    expect(again.body.errors).toEqual([{ field: 'identifier', message: 'already exists' }]);

    expect((await call(server, token, 'GET', path(body.identifier))).body).toEqual(created.body);
    const list = await call(server, token, 'GET', '/resources');
    expect(list.body.items).toEqual([created.body]);

    expect((await call(server, token, 'DELETE', path(body.identifier))).status).toBe(204);
    expect((await call(server, token, 'GET', path(body.identifier))).status).toBe(404);
    expect((await call(server, token, 'DELETE', path(body.identifier))).status).toBe(404);
  });

  test('defaults: the name is the identifier, JWT tokens, the configured lifetime', async () => {
    const res = await call(server, token, 'POST', '/resources', { identifier: 'urn:example:inventory', scopes: ['stock'] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'urn:example:inventory', token_format: 'jwt', access_token_ttl: server.config.ttl.accessToken, dynamic_clients: false });
  });

  test('dynamic_clients: absent is false; set and cleared by PATCH, audited', async () => {
    const identifier = 'https://calendar.example/api';
    expect((await call(server, token, 'POST', '/resources', { identifier, scopes: ['events:read'] })).body.dynamic_clients).toBe(false);
    expect((await call(server, token, 'PATCH', path(identifier), { dynamic_clients: true })).body.dynamic_clients).toBe(true);
    expect((await call(server, token, 'GET', path(identifier))).body.dynamic_clients).toBe(true);
    const audit = await call(server, token, 'GET', `/audit?type=resource.updated`);
    expect(audit.body.items.find((event: { subject: string }) => event.subject === identifier).details).toMatchObject({ fields: ['dynamic_clients'], dynamic_clients: true });
    expect((await call(server, token, 'PATCH', path(identifier), { dynamic_clients: 'yes' })).status).toBe(400);
  });

  test('the admin resource cannot be shadowed', async () => {
    const res = await call(server, token, 'POST', '/resources', { identifier: `${server.issuer}/admin`, scopes: ['admin'] });
    expect(res.status).toBe(409);
  });

  test('invalid fields are named', async () => {
    const res = await call(server, token, 'POST', '/resources', { identifier: '/relative', scopes: [], token_format: 'paseto', access_token_ttl: 86401 });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['access_token_ttl', 'identifier', 'scopes', 'token_format']);
  });
});
