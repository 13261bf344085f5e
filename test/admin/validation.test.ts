import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminToken, call } from './admin-api.ts';

const isProblem = (res: { headers: Headers }) => expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);

describe('admin API input validation', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await adminToken(server);
  });
  afterAll(async () => { await server?.stop(); });

  test('an invalid body → 400 naming each field', async () => {
    const res = await call(server, token, 'POST', '/users', { username: 'no spaces allowed', password: 'short', email: 'not-an-email' });
    expect(res.status).toBe(400);
    isProblem(res);
    const fields = res.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['username', 'password', 'email']));
    for (const error of res.body.errors) expect(typeof error.message).toBe('string');
  });

  test('a missing field and an unknown property are named', async () => {
    const res = await call(server, token, 'POST', '/users', { username: 'bob', is_admin: true });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual(expect.arrayContaining([
      { field: 'password', message: 'is required' },
      { field: 'is_admin', message: 'is not a known field' },
    ]));
  });

  test('nested fields are named by their path', async () => {
    const res = await call(server, token, 'POST', '/clients', { name: 'x', grant_types: ['client_credentials'], redirect_uris: ['not a uri'] });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain('redirect_uris.0');
  });

  test('malformed JSON → 400 problem', async () => {
    const res = await call(server, token, 'POST', '/users', '{"username": "bob",');
    expect(res.status).toBe(400);
    isProblem(res);
  });

  test('JSON that is not an object → 400', async () => {
    for (const body of ['"a string"', '[1,2]', 'null', '42']) {
      const res = await call(server, token, 'POST', '/users', body);
      expect(res.status).toBe(400);
      isProblem(res);
    }
  });

  test('a 1 MB body → 413 problem, with or without a token, never 5xx', async () => {
    const huge = JSON.stringify({ username: 'x', password: 'y'.repeat(1024 * 1024) });
    const withToken = await call(server, token, 'POST', '/users', huge);
    expect(withToken.status).toBe(413);
    isProblem(withToken);
    const withoutToken = await call(server, undefined, 'POST', '/users', huge);
    expect(withoutToken.status).toBe(401);
  });

  test('a body that is not JSON → 415', async () => {
    const res = await call(server, token, 'POST', '/users', 'username=bob', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
    isProblem(res);
  });

  test('text the database would refuse (NUL, control characters) → 400, not 500', async () => {
    const res = await call(server, token, 'POST', '/users', { username: 'nul', password: 'long enough', name: 'a\u0000b' });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['name']);
    expect((await call(server, token, 'GET', '/users/%00')).status).toBe(404);
    expect((await call(server, token, 'GET', '/audit?subject=%00')).status).toBe(400);
  });

  test('pagination: limit 1..200, offset ≥ 0, nothing unknown', async () => {
    expect((await call(server, token, 'GET', '/users?limit=200&offset=0')).status).toBe(200);
    for (const query of ['limit=0', 'limit=201', 'limit=ten', 'offset=-1', 'limit=1&limit=2', 'sort=name']) {
      const res = await call(server, token, 'GET', `/users?${query}`);
      expect(res.status).toBe(400);
      isProblem(res);
    }
    const res = await call(server, token, 'GET', '/clients?limit=1');
    expect(res.body).toMatchObject({ limit: 1, offset: 0 });
    expect(res.body.items).toHaveLength(1);
  });

  test('a wrong type for every kind of field → 400, never 5xx', async () => {
    const bodies: Array<[string, unknown]> = [
      ['/users', { username: 42, password: ['x'] }],
      ['/clients', { name: {}, grant_types: 'client_credentials' }],
      ['/resources', { identifier: 'relative/path', scopes: 'read' }],
      ['/resources', { identifier: 'https://api.example/#frag', scopes: ['read'], access_token_ttl: 10 }],
      ['/grants/revoke', { user: 'a', client: 'b' }],
      ['/grants/revoke', {}],
      ['/tokens/revoke', { jti: '', exp: 'soon' }],
      ['/users/import', { users: [] }],
    ];
    for (const [path, body] of bodies) {
      const res = await call(server, token, 'POST', path, body);
      expect([path, res.status]).toEqual([path, 400]);
      expect(res.body.errors.length).toBeGreaterThan(0);
    }
  });
});
