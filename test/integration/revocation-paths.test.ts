/*
 * Every way access is taken away covers every token it should, at once, at
 * every instance — and nothing else (issue 11, done-means 1).
 *
 * Two instances, A and B, share one Postgres schema and one Redis prefix.
 * Each path is taken at A (through the admin API, as an admin would); its
 * effect is checked at B straight away: every covered token — refresh
 * tokens, opaque and JWT access tokens, client_credentials JWTs — introspects
 * `active: false` there, every covered refresh token fails, and the tokens of
 * other users and other clients stay active and keep working.
 *
 * Each path gets its own users and clients (a "world"), so the paths cannot
 * see each other's effects:
 *   victim@app, bystander@app, victim@other  — a person's tokens at a client,
 *     each from its own browser session (two code flows: one for a JWT
 *     resource, one for an opaque one, so one grant holds both)
 *   cc(app), cc(other)                       — client_credentials JWTs
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { decodeJwt } from 'jose';
import { startTwoInstances, type TestServer, type TwoInstances } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { BrowserAgent } from '../support/browser-agent.ts';
import type { ClientCredentials } from '../support/oauth.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { clientCredentials, codeFlow, introspect, refresh, REDIRECT_URI } from '../tokens/token-flows.ts';

const API_JWT = 'https://jwt.revocation-paths.test';
const API_OPAQUE = 'https://opaque.revocation-paths.test';
const PASSWORD = 'a long and unguessable passphrase';

const up = (await postgresUp()) && (await redisUp());

/** What one person holds at one client, all from one browser session (one grant). */
interface Holding {
  label: string;
  client: ClientCredentials;
  sid: string;
  jwt: string;
  opaque: string;
  refreshTokens: string[];
}

interface World {
  app: ClientCredentials;
  other: ClientCredentials;
  victim: { id: string; username: string };
  bystander: { id: string; username: string };
  victimAtApp: Holding;
  bystanderAtApp: Holding;
  victimAtOther: Holding;
  ccApp: string;
  ccOther: string;
}

/** Which of a world's tokens a path covers. */
type Covered = Array<'victimAtApp' | 'bystanderAtApp' | 'victimAtOther' | 'ccApp' | 'ccOther' | 'victimAtApp.jwt'>;

describeWithService('Postgres and Redis', up)('every revocation path, two instances', () => {
  let instances: TwoInstances | undefined;
  let a: TestServer;
  let b: TestServer;
  let admin: string;
  let rs: ClientCredentials;

  beforeAll(async () => {
    instances = await startTwoInstances({ redis: true });
    ({ a, b } = instances);
    await a.services.resources.create({ identifier: API_JWT, scopes: ['read'], tokenFormat: 'jwt' });
    await a.services.resources.create({ identifier: API_OPAQUE, scopes: ['read'], tokenFormat: 'opaque' });
    rs = await a.createClient({ name: 'the API', grantTypes: ['client_credentials'], introspectFor: [API_JWT, API_OPAQUE] });
    admin = await adminToken(a);
  }, 60_000);

  afterAll(async () => {
    await instances?.stop();
  });

  let worlds = 0;

  async function holding(label: string, client: ClientCredentials, username: string): Promise<Holding> {
    const agent = new BrowserAgent();
    const user = { username, password: PASSWORD };
    const scope = 'openid offline_access read';
    const first = await codeFlow({ baseUrl: a.url, client, user, scope, resource: API_JWT, agent });
    const second = await codeFlow({ baseUrl: a.url, client, user, scope, resource: API_OPAQUE, agent });
    const sid = decodeJwt(first.id_token!).sid as string;
    expect(decodeJwt(second.id_token!).sid).toBe(sid);
    expect(second.access_token.split('.')).toHaveLength(1);
    return { label, client, sid, jwt: first.access_token, opaque: second.access_token, refreshTokens: [first.refresh_token!, second.refresh_token!] };
  }

  async function newWorld(): Promise<World> {
    const n = ++worlds;
    const clientInput = (name: string) => ({
      name, grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'], redirectUris: [REDIRECT_URI],
      scopes: ['openid', 'offline_access', 'read'],
    });
    const app = await a.createClient(clientInput(`app ${n}`));
    const other = await a.createClient(clientInput(`other ${n}`));
    const victim = { username: `victim-${n}`, id: (await a.createUser({ username: `victim-${n}`, password: PASSWORD })).id };
    const bystander = { username: `bystander-${n}`, id: (await a.createUser({ username: `bystander-${n}`, password: PASSWORD })).id };
    return {
      app, other, victim, bystander,
      victimAtApp: await holding('victim@app', app, victim.username),
      bystanderAtApp: await holding('bystander@app', app, bystander.username),
      victimAtOther: await holding('victim@other', other, victim.username),
      ccApp: await clientCredentials(a.url, app, API_JWT, 'read'),
      ccOther: await clientCredentials(a.url, other, API_JWT, 'read'),
    };
  }

  /**
   * At B: covered tokens are inactive and covered refresh tokens fail; the
   * rest are active and work. `credentials` replaces a client's credentials
   * for the refresh attempts (a rotated secret).
   */
  async function expectAtB(world: World, covered: Covered, credentials: Map<string, ClientCredentials> = new Map()) {
    const seen: Record<string, boolean> = {};
    const expected: Record<string, boolean> = {};
    const isCovered = (name: string) => covered.includes(name as never);
    for (const name of ['victimAtApp', 'bystanderAtApp', 'victimAtOther'] as const) {
      const h = world[name];
      const all = isCovered(name);
      seen[`${h.label} jwt`] = (await introspect(b.url, rs, h.jwt)).active;
      expected[`${h.label} jwt`] = !(all || (name === 'victimAtApp' && isCovered('victimAtApp.jwt')));
      seen[`${h.label} opaque`] = (await introspect(b.url, rs, h.opaque)).active;
      expected[`${h.label} opaque`] = !all;
      const client = credentials.get(h.client.clientId) ?? h.client;
      for (const [i, token] of h.refreshTokens.entries()) {
        const answer = await refresh(b.url, client, token);
        seen[`${h.label} refresh ${i} works`] = answer.status === 200;
        expected[`${h.label} refresh ${i} works`] = !all;
      }
    }
    seen['cc(app)'] = (await introspect(b.url, rs, world.ccApp)).active;
    expected['cc(app)'] = !isCovered('ccApp');
    seen['cc(other)'] = (await introspect(b.url, rs, world.ccOther)).active;
    expected['cc(other)'] = !isCovered('ccOther');
    expect(seen).toEqual(expected);
  }

  const adminCall = async (method: string, path: string, body?: unknown, expectedStatus = [200, 204]) => {
    const reply = await call(a, admin, method, path, body ?? (method === 'POST' ? {} : undefined));
    if (!expectedStatus.includes(reply.status)) throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply;
  };

  const USER_PATH: Covered = ['victimAtApp', 'victimAtOther'];
  const CLIENT_PATH: Covered = ['victimAtApp', 'bystanderAtApp', 'ccApp'];

  describe('paths about a person', () => {
    test('one grant revoked', async () => {
      const w = await newWorld();
      const grants = await adminCall('GET', `/grants?user=${w.victim.id}`);
      const grantOfApp = grants.body.items.find((g: { client_id: string }) => g.client_id === w.app.clientId);
      await adminCall('DELETE', `/grants/${grantOfApp.id}`);
      await expectAtB(w, ['victimAtApp']);
    }, 120_000);

    test('all grants of a user revoked', async () => {
      const w = await newWorld();
      await adminCall('POST', '/grants/revoke', { user: w.victim.username });
      await expectAtB(w, USER_PATH);
    }, 120_000);

    test('user disabled', async () => {
      const w = await newWorld();
      await adminCall('POST', `/users/${w.victim.id}/disable`);
      await expectAtB(w, USER_PATH);
    }, 120_000);

    test('user deleted', async () => {
      const w = await newWorld();
      await adminCall('DELETE', `/users/${w.victim.id}`);
      await expectAtB(w, USER_PATH);
    }, 120_000);

    test('password changed (set by an admin)', async () => {
      const w = await newWorld();
      await adminCall('POST', `/users/${w.victim.id}/password`, { password: 'an entirely different long passphrase' });
      await expectAtB(w, USER_PATH);
    }, 120_000);

    test('one session ended', async () => {
      const w = await newWorld();
      // the admin API names sessions by their uid (an ID token's sid is per client)
      const listed = await adminCall('GET', `/sessions?user=${w.victim.username}`);
      expect(listed.body.items).toHaveLength(2);
      const atApp = listed.body.items.find((s: { clients: Array<string | { client_id: string }> }) => JSON.stringify(s.clients).includes(w.app.clientId));
      await adminCall('DELETE', `/sessions/${atApp.id}`);
      await expectAtB(w, ['victimAtApp']);
    }, 120_000);

    test('all sessions of a user ended', async () => {
      const w = await newWorld();
      await adminCall('POST', '/sessions/end', { user: w.victim.username });
      await expectAtB(w, USER_PATH);
    }, 120_000);

    test('one JWT access token revoked by its jti', async () => {
      const w = await newWorld();
      const { jti, exp } = decodeJwt(w.victimAtApp.jwt);
      await adminCall('POST', '/tokens/revoke', { jti, exp });
      await expectAtB(w, ['victimAtApp.jwt']);
    }, 120_000);
  });

  describe('paths about a client', () => {
    test('all grants of a client revoked (its client_credentials JWTs too)', async () => {
      const w = await newWorld();
      await adminCall('POST', '/grants/revoke', { client: w.app.clientId });
      await expectAtB(w, CLIENT_PATH);
    }, 120_000);

    test('client disabled', async () => {
      const w = await newWorld();
      await adminCall('POST', `/clients/${w.app.clientId}/disable`);
      await expectAtB(w, CLIENT_PATH);
    }, 120_000);

    test('client deleted', async () => {
      const w = await newWorld();
      await adminCall('DELETE', `/clients/${w.app.clientId}`);
      await expectAtB(w, CLIENT_PATH);
    }, 120_000);

    test('client secret rotated without grace', async () => {
      const w = await newWorld();
      const rotated = await adminCall('POST', `/clients/${w.app.clientId}/rotate-secret`, {});
      const renewed = { clientId: w.app.clientId, clientSecret: rotated.body.client_secret as string };
      expect(renewed.clientSecret).toEqual(expect.any(String));
      // refresh attempts use the new secret: the old tokens fail for what they are, not for the client's credentials
      await expectAtB(w, CLIENT_PATH, new Map([[w.app.clientId, renewed]]));
      // the client itself goes on with its new secret
      expect((await introspect(b.url, rs, await clientCredentials(b.url, renewed, API_JWT, 'read'))).active).toBe(true);
    }, 120_000);
  });
});
