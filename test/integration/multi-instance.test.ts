/*
 * Two Tessera instances on one Postgres (one schema) and one Redis (one key
 * prefix), sharing KEYS_DIR (signing keys, cookie keys, secrets) and one
 * issuer, behave as one server: sessions, tokens and revocations made at one
 * are seen at the other at once. Afterwards, every Redis key they left has a
 * TTL and no key or value holds a raw token from these flows.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { startTwoInstances, type TestServer, type TwoInstances } from '../support/server.ts';
import { REDIS_URL, describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { dumpUnder, keysUnder } from '../support/redis-keys.ts';
import { authorize, tokenRequest, type ClientCredentials } from '../support/oauth.ts';
import type { BrowserAgent } from '../support/browser-agent.ts';
import {
  clientCredentials, codeFlow, introspect, isJwt, refresh, revoke, REDIRECT_URI,
  type Tokens,
} from '../tokens/token-flows.ts';

const API = 'https://api.multi.test';
const USER = { username: 'multi-alice', password: 'a long and unguessable passphrase' };

const up = (await postgresUp()) && (await redisUp());

describeWithService('Postgres and Redis', up)('two instances on one Postgres and one Redis', () => {
  let instances: TwoInstances | undefined;
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let svc: ClientCredentials;
  let app: ClientCredentials;
  let rs: ClientCredentials;

  /** Every raw bearer value the flows below obtained, for the at-rest check. */
  const issued = new Set<string>();
  const agents: BrowserAgent[] = [];
  const keep = (tokens: Partial<Tokens>) => {
    for (const value of [tokens.access_token, tokens.refresh_token, tokens.id_token]) if (value) issued.add(value);
  };

  beforeAll(async () => {
    instances = await startTwoInstances({ redis: true });
    ({ a, b } = instances);

    await a.services.resources.create({ identifier: API, scopes: ['read'] });
    svc = await a.createClient({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] });
    rs = await b.createClient({ name: 'api', grantTypes: ['client_credentials'], introspectFor: [API] });
    app = await b.createClient({
      name: 'app', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI],
      scopes: ['openid', 'offline_access', 'read'],
    });
    await a.createUser(USER);
  }, 60_000);

  afterAll(async () => {
    await instances?.stop();
  });

  test('both instances publish the same signing keys', async () => {
    const [jwksA, jwksB] = await Promise.all([a!, b!].map(async (s) => (await fetch(`${s.url}/jwks`)).json()));
    expect(jwksA).toEqual(jwksB);
    expect((jwksA as { keys: unknown[] }).keys.length).toBeGreaterThanOrEqual(2);
  });

  test('a session started at B signs the user in at A; a code from one is redeemed at the other', async () => {
    const first = await codeFlow({ baseUrl: b!.url, client: app, user: USER, scope: 'openid' });
    keep(first);
    agents.push(first.agent);
    // Same browser at A: no login page, no consent page (session and grant are shared).
    const again = await authorize({ baseUrl: a!.url, clientId: app.clientId, redirectUri: REDIRECT_URI, scope: 'openid', agent: first.agent });
    expect(again.pages).toEqual([]);
    expect(again.code).toBeDefined();
    issued.add(again.code!);
    const redeemed = await tokenRequest(b!.url, {
      grant_type: 'authorization_code', code: again.code!, redirect_uri: REDIRECT_URI, code_verifier: again.verifier,
    }, app);
    expect(redeemed.status).toBe(200);
    keep(redeemed.body as Tokens);
    // an opaque (userinfo) access token from B works at A
    const userinfo = await fetch(`${a!.url}/me`, { headers: { authorization: `Bearer ${redeemed.body.access_token}` } });
    expect(userinfo.status).toBe(200);
  });

  test('a token from A introspects at B; a JWT revoked at B is inactive at A within the same second', async () => {
    const jwt = await clientCredentials(a!.url, svc, API, 'read');
    issued.add(jwt);
    expect(isJwt(jwt)).toBe(true);
    expect(await introspect(b!.url, rs, jwt)).toMatchObject({ active: true, client_id: svc.clientId });
    expect(await introspect(a!.url, rs, jwt)).toMatchObject({ active: true });

    const revokedAt = Date.now();
    expect((await revoke(b!.url, svc, jwt)).status).toBe(200);
    expect(await introspect(a!.url, rs, jwt)).toEqual({ active: false });
    expect(Date.now() - revokedAt).toBeLessThan(1000);
    expect(await introspect(a!.url, svc, jwt)).toEqual({ active: false });
  });

  test('refresh-token reuse at B revokes the grant: none of its opaque, refresh or JWT tokens is active at A or B', async () => {
    // One browser session, so both authorizations extend one grant: an opaque
    // access token from the first (at A), a JWT for the API from the second (at B).
    const opaque = await codeFlow({ baseUrl: a!.url, client: app, user: USER, scope: 'openid offline_access' });
    const jwtFlow = await codeFlow({ baseUrl: b!.url, client: app, user: USER, scope: 'openid offline_access read', resource: API, agent: opaque.agent });
    agents.push(opaque.agent);
    keep(opaque);
    keep(jwtFlow);
    expect(isJwt(opaque.access_token)).toBe(false);
    expect(isJwt(jwtFlow.access_token)).toBe(true);

    const rotated = await refresh(a!.url, app, jwtFlow.refresh_token!);
    expect(rotated.status).toBe(200);
    keep(rotated.body as Tokens);
    const live = [opaque.access_token, opaque.refresh_token!, jwtFlow.access_token, rotated.body.access_token!, rotated.body.refresh_token!];
    for (const server of [a!, b!]) {
      for (const token of live) expect(await introspect(server.url, app, token)).toMatchObject({ active: true });
    }

    // The already rotated refresh token comes back, at the other instance.
    const reuse = await refresh(b!.url, app, jwtFlow.refresh_token!);
    expect(reuse.body).toMatchObject({ error: 'invalid_grant' });

    for (const server of [a!, b!]) {
      for (const token of live) expect(await introspect(server.url, app, token)).toEqual({ active: false });
      for (const token of live.filter(isJwt)) expect(await introspect(server.url, rs, token)).toEqual({ active: false });
    }
    expect((await refresh(a!.url, app, rotated.body.refresh_token!)).body).toMatchObject({ error: 'invalid_grant' });
  });

  test('an admin revocation at A (revokeGrantsOfUser) is seen at B at once', async () => {
    const tokens = await codeFlow({ baseUrl: b!.url, client: app, user: USER, scope: 'openid offline_access read', resource: API });
    keep(tokens);
    agents.push(tokens.agent);
    expect(await introspect(b!.url, app, tokens.access_token)).toMatchObject({ active: true });
    const account = await a!.services.accounts.findCredentials(USER.username);
    expect(await a!.revocation.revokeGrantsOfUser(account!.account.id)).toBeGreaterThan(0);
    for (const token of [tokens.access_token, tokens.refresh_token!]) {
      expect(await introspect(b!.url, app, token)).toEqual({ active: false });
    }
  });

  test('after the flows: every Redis key has a TTL, and no key or value holds a raw token', async () => {
    for (const agent of agents) {
      // the session cookie is a bearer value too (its value is the session id)
      const session = agent.jar.get('_session');
      expect(session).toBeDefined();
      issued.add(session!);
    }
    expect(issued.size).toBeGreaterThan(10);

    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const keys = await keysUnder(redis, instances!.redisKeyPrefix!);
      expect(keys.length).toBeGreaterThan(10);
      const withoutTtl: string[] = [];
      for (const key of keys) if (await redis.pttl(key) <= 0) withoutTtl.push(key);
      expect(withoutTtl).toEqual([]);

      const dump = await dumpUnder([redis], instances!.redisKeyPrefix!);
      const leaked = [...issued].filter((token) => dump.includes(token));
      expect(leaked).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
