// The admin API's initial access tokens for dynamic client registration:
// defaults (one use, one day), bounds, values shown once and never listed,
// revocation, and the audit events with the admin as the actor.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminToken, call } from './admin-api.ts';
import { readAdminCredentials } from '../../src/admin/index.ts';

describe('/admin/v1/registration-tokens', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ config: { dynamicRegistration: { mode: 'token' } } });
    token = await adminToken(server);
  });
  afterAll(async () => { await server?.stop(); });

  test('create: one use and one day by default; the value once, with no-store; the list never shows it', async () => {
    const before = Date.now();
    const created = await call(server, token, 'POST', '/registration-tokens', {});
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^iat_/), uses: 1, uses_left: 1, expired: false, description: null, initial_access_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const lifetime = Date.parse(created.body.expires_at) - before;
    expect(lifetime).toBeGreaterThan(86_400_000 - 60_000);
    expect(lifetime).toBeLessThanOrEqual(86_400_000 + 60_000);
    const listed = await call(server, token, 'GET', '/registration-tokens');
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual(expect.arrayContaining([expect.objectContaining({ id: created.body.id, uses_left: 1 })]));
    expect(JSON.stringify(listed.body)).not.toContain(created.body.initial_access_token);
    expect(listed.body.items.every((item: Record<string, unknown>) => !('initial_access_token' in item) && !('token_digest' in item))).toBe(true);
    // stored as a digest: the table holds no value
    const rows = await server.db.knex('registration_tokens').select('*');
    expect(JSON.stringify(rows)).not.toContain(created.body.initial_access_token);
  });

  test('bounds: uses 1..10000, lifetime 60 s..30 days, a description of printable text; unknown fields refused', async () => {
    for (const [body, field] of [
      [{ uses: 0 }, 'uses'], [{ uses: 10_001 }, 'uses'], [{ ttl_seconds: 59 }, 'ttl_seconds'], [{ ttl_seconds: 30 * 86_400 + 1 }, 'ttl_seconds'],
      [{ description: 'a\u0000b' }, 'description'], [{ initial_access_token: 'chosen' }, 'initial_access_token'],
    ] as const) {
      const answer = await call(server, token, 'POST', '/registration-tokens', body);
      expect({ field, status: answer.status }).toEqual({ field, status: 400 });
      expect(JSON.stringify(answer.body.errors)).toContain(field);
    }
    const most = await call(server, token, 'POST', '/registration-tokens', { uses: 10_000, ttl_seconds: 30 * 86_400, description: 'partner onboarding' });
    expect(most.status).toBe(201);
    expect(most.body).toMatchObject({ uses: 10_000, uses_left: 10_000, description: 'partner onboarding' });
  });

  test('revoke: the token stops working at once; a second revoke is 404; both audited with the admin as actor', async () => {
    const created = await call(server, token, 'POST', '/registration-tokens', { uses: 3 });
    expect((await call(server, token, 'DELETE', `/registration-tokens/${created.body.id}`)).status).toBe(204);
    expect((await call(server, token, 'DELETE', `/registration-tokens/${created.body.id}`)).status).toBe(404);
    const registration = await fetch(`${server.url}/reg`, {
      method: 'POST', headers: { authorization: `Bearer ${created.body.initial_access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://app.example.test/cb'] }),
    });
    expect(registration.status).toBe(401);
    const admin = readAdminCredentials(server.config.keysDir, {})!.client_id;
    const events = await server.services.audit.list({ subjects: [created.body.id], limit: 10 });
    expect(events.map((e) => [e.type, e.actor]).sort()).toEqual([['registration_token.created', admin], ['registration_token.revoked', admin]]);
    expect(JSON.stringify(events)).not.toContain(created.body.initial_access_token);
  });
});
