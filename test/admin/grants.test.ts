import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, redisUp } from '../support/services.ts';
import { adminToken, call, createGrant } from './admin-api.ts';

const hasRedis = await redisUp();

function grantSuite(options: { redis: boolean }) {
  let server: TestServer;
  let token: string;
  let user: { id: string };
  let clientA: string;
  let clientB: string;
  beforeAll(async () => {
    server = await startTestServer(options);
    token = await adminToken(server);
    user = await server.createUser({ username: 'erin', password: 'erin password' });
    clientA = (await server.createClient({ name: 'a', grantTypes: ['client_credentials'] })).clientId;
    clientB = (await server.createClient({ name: 'b', grantTypes: ['client_credentials'] })).clientId;
  });
  afterAll(async () => { await server?.stop(); });

  test('list by user (username or id) and by client, with client, account and scopes', async () => {
    const grantId = await createGrant(server, user.id, clientA);
    await createGrant(server, user.id, clientB);
    const byName = await call(server, token, 'GET', '/grants?user=erin');
    expect(byName.status).toBe(200);
    expect(byName.body.items).toHaveLength(2);
    expect(byName.body.items).toEqual(expect.arrayContaining([
      expect.objectContaining({ id: grantId, client_id: clientA, account_id: user.id, scopes: ['openid', 'profile'] }),
    ]));
    expect((await call(server, token, 'GET', `/grants?user=${user.id}`)).body.items).toHaveLength(2);
    expect((await call(server, token, 'GET', `/grants?client=${clientA}`)).body.items.map((g: { id: string }) => g.id)).toEqual([grantId]);
    expect((await call(server, token, 'GET', '/grants')).status).toBe(400);
    expect((await call(server, token, 'GET', `/grants?user=erin&client=${clientA}`)).status).toBe(400);
    expect((await call(server, token, 'GET', '/grants?user=nobody')).status).toBe(404);
  });

  test('DELETE /grants/:id revokes one grant', async () => {
    const grantId = await createGrant(server, user.id, clientA);
    expect((await call(server, token, 'DELETE', `/grants/${grantId}`)).status).toBe(204);
    expect(await server.provider.Grant.find(grantId)).toBeUndefined();
    expect((await call(server, token, 'DELETE', `/grants/${grantId}`)).status).toBe(404);
  });

  test('POST /grants/revoke by client, then by user, reports the count', async () => {
    const before = (await call(server, token, 'GET', `/grants?client=${clientB}`)).body.items.length;
    const byClient = await call(server, token, 'POST', '/grants/revoke', { client: clientB });
    expect(byClient.body).toMatchObject({ revoked_grants: before });
    expect((await call(server, token, 'GET', `/grants?client=${clientB}`)).body.items).toHaveLength(0);

    await createGrant(server, user.id, clientA);
    const byUser = await call(server, token, 'POST', '/grants/revoke', { user: 'erin' });
    expect(byUser.status).toBe(200);
    expect(byUser.body.revoked_grants).toBeGreaterThan(0);
    expect((await call(server, token, 'GET', '/grants?user=erin')).body.items).toHaveLength(0);
  });

  test('POST /tokens/revoke denylists a jti (until exp, or the longest lifetime)', async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const res = await call(server, token, 'POST', '/tokens/revoke', { jti: 'jti-with-exp', exp });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ jti: 'jti-with-exp', revoked: true, denied_until: new Date(exp * 1000).toISOString() });
    expect(await server.tokenState.denylist.has('jti-with-exp')).toBe(true);

    const unknownExp = await call(server, token, 'POST', '/tokens/revoke', { jti: 'jti-without-exp' });
    expect(unknownExp.status).toBe(200);
    expect(Date.parse(unknownExp.body.denied_until)).toBeGreaterThanOrEqual(Date.now() + 86_000_000);
    expect(await server.tokenState.denylist.has('jti-without-exp')).toBe(true);
  });

  test('revoking the admin token itself shuts it out at once', async () => {
    const own = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { jti: string; exp: number };
    const second = await adminToken(server);
    await call(server, second, 'POST', '/tokens/revoke', { jti: own.jti, exp: own.exp });
    const res = await call(server, token, 'GET', '/keys');
    expect(res.status).toBe(401);
    token = second;
  });

  test('audit: filters by type, subject (username too), actor and since; newest first', async () => {
    // request-path events (tokens issued) are written in batches: all of them now, so the lists below agree
    await server.services.audit.flush();
    const all = await call(server, token, 'GET', '/audit?limit=200');
    expect(all.status).toBe(200);
    const times = all.body.items.map((e: { at: string }) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const revocations = await call(server, token, 'GET', '/audit?type=grants.revoked');
    expect(revocations.body.items.length).toBe(2);
    const aboutErin = await call(server, token, 'GET', '/audit?subject=erin');
    expect(aboutErin.body.items.length).toBeGreaterThan(0);
    for (const event of aboutErin.body.items) expect(event.subject).toBe(user.id);
    // every event but the server's own (the admin client it registered at start) has the admin client as actor
    const byAdmin = all.body.items.filter((e: { actor: string }) => e.actor === 'tessera-admin');
    expect(byAdmin.length).toBeGreaterThan(0);
    expect((await call(server, token, 'GET', '/audit?actor=tessera-admin')).body.items).toEqual(byAdmin);
    expect((await call(server, token, 'GET', '/audit?actor=someone-else')).body.items).toHaveLength(0);
    expect((await call(server, token, 'GET', `/audit?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body.items).toHaveLength(0);
    expect((await call(server, token, 'GET', '/audit?since=2000-01-01')).body.items.length).toBe(all.body.items.length);
    const badSince = await call(server, token, 'GET', '/audit?since=yesterday');
    expect(badSince.status).toBe(400);
    expect(badSince.body.errors[0].field).toBe('since');
    expect((await call(server, token, 'GET', '/audit?since=2024-13-45')).status).toBe(400);
  });
}

describe('admin grants, tokens and audit (SQL token state)', () => grantSuite({ redis: false }));
describeWithService('Redis', hasRedis)('admin grants, tokens and audit (Redis token state)', () => grantSuite({ redis: true }));
