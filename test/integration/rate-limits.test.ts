/*
 * The rate limits over real HTTP: each limit answers 429 with Retry-After and
 * the RateLimit-* fields once passed; a stranger naming a client with a wrong
 * secret does not spend the client's slots; two instances sharing Redis, or
 * sharing Postgres without Redis, hold one count; a window ends and the
 * requests pass again.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startTestServer, startTwoInstances, type TestServer } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { postAsClient, tokenRequest, type ClientCredentials } from '../support/oauth.ts';
import { tokenEndpoint } from '../tokens/token-flows.ts';
import { adminToken, call } from '../admin/admin-api.ts';

const API = 'https://api.rate-limits.test';

/** The 429 as every limit gives it: Retry-After within the window, and the draft's RateLimit-* fields. */
function expectRefused(res: { status: number; headers: Headers }, limit: number, windowSeconds = 60) {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(res.headers.get('ratelimit-limit')).toBe(String(limit));
  expect(res.headers.get('ratelimit-remaining')).toBe('0');
  expect(res.headers.get('ratelimit-reset')).toBe(String(retryAfter));
  expect(res.headers.get('ratelimit-policy')).toMatch(new RegExp(`^${limit};w=${windowSeconds};`));
}

const clientCredentials = (server: { url: string }, client: ClientCredentials) =>
  tokenRequest(server.url, { grant_type: 'client_credentials', resource: API, scope: 'read' }, client);

async function setUp(server: TestServer) {
  await server.services.resources.create({ identifier: API, scopes: ['read'] });
  const svc = await server.createClient({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] });
  const other = await server.createClient({ name: 'other', grantTypes: ['client_credentials'], scopes: ['read'] });
  const rs = await server.createClient({ name: 'api', grantTypes: ['client_credentials'], introspectFor: [API] });
  return { svc, other, rs };
}

describe('limits per client', () => {
  let server: TestServer;
  let svc: ClientCredentials;
  let other: ClientCredentials;
  let rs: ClientCredentials;

  beforeAll(async () => {
    server = await startTestServer({
      config: {
        rateLimits: {
          tokenPerClient: { limit: 3, windowSeconds: 60 },
          introspectionPerClient: { limit: 3, windowSeconds: 60 },
          revocationPerClient: { limit: 2, windowSeconds: 60 },
          adminPerClient: { limit: 2, windowSeconds: 60 },
        },
      },
    });
    ({ svc, other, rs } = await setUp(server));
  }, 30_000);
  afterAll(async () => { await server?.stop(); });

  test('token: a stranger with a wrong secret spends nothing; the client gets its 3, then 429 temporarily_unavailable; another client is not affected', async () => {
    for (let i = 0; i < 5; i += 1) {
      expect((await clientCredentials(server, { clientId: svc.clientId, clientSecret: 'not the secret' })).status).toBe(401);
    }
    for (let i = 0; i < 3; i += 1) expect((await clientCredentials(server, svc)).status).toBe(200);
    const refused = await clientCredentials(server, svc);
    expectRefused(refused, 3);
    expect(JSON.parse(refused.text)).toMatchObject({ error: 'temporarily_unavailable' });
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    // client_secret_post names the client in the body: the same count
    const byPost = await postAsClient(`${server.url}/token`, { grant_type: 'client_credentials', resource: API, scope: 'read' }, svc, { auth: 'post' });
    expect(byPost.status).toBe(429);
    expect((await clientCredentials(server, other)).status).toBe(200);
  });

  test('a public client (client_id only, no credentials) is not counted per client: anyone can name it', async () => {
    const spa = await server.createClient({
      name: 'spa', public: true, grantTypes: ['authorization_code'], redirectUris: ['https://spa.example.test/cb'], scopes: ['openid'],
    });
    for (let i = 0; i < 5; i += 1) {
      const answer = await tokenRequest(server.url, { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: 'https://spa.example.test/cb', code_verifier: 'v'.repeat(43) }, spa);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: 'invalid_grant' });
    }
  });

  test('introspection (JWT fast path and opaque) and revocation, per client', async () => {
    const token = (await clientCredentials(server, other)).body.access_token!;
    const ask = (post = false) => tokenEndpoint(server.url, 'introspection', rs, { token }, { post });
    expect((await ask()).status).toBe(200);
    expect((await ask(true)).status).toBe(200);
    expect((await tokenEndpoint(server.url, 'introspection', rs, { token: 'opaque-and-unknown' })).json).toEqual({ active: false });
    const refused = await ask();
    expectRefused(refused, 3);
    expect(refused.json).toMatchObject({ error: 'temporarily_unavailable' });

    const revoke = () => tokenEndpoint(server.url, 'revocation', other, { token: 'not-a-token' });
    expect((await revoke()).status).toBe(200);
    expect((await revoke()).status).toBe(200);
    expectRefused(await revoke(), 2);
  });

  test('admin API: per admin client, 429 as problem+json', async () => {
    const token = await adminToken(server);
    expect((await call(server, token, 'GET', '/users')).status).toBe(200);
    expect((await call(server, token, 'GET', '/clients')).status).toBe(200);
    const refused = await call(server, token, 'GET', '/users');
    expectRefused(refused, 2);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ status: 429, title: 'Too Many Requests' });
    // without a valid token the guard answers first: nothing is counted, nothing is said about the limit
    const anonymous = await call(server, undefined, 'GET', '/users');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('ratelimit-limit')).toBeNull();
  });
});

describe('limits per address', () => {
  let server: TestServer;
  let svc: ClientCredentials;
  let other: ClientCredentials;

  beforeAll(async () => {
    server = await startTestServer({
      config: {
        rateLimits: {
          tokenPerIp: { limit: 2, windowSeconds: 60 },
          authorizationPerIp: { limit: 2, windowSeconds: 60 },
          pagesPerIp: { limit: 1, windowSeconds: 60 },
        },
      },
    });
    ({ svc, other } = await setUp(server));
  }, 30_000);
  afterAll(async () => { await server?.stop(); });

  test('token: two requests from this address whatever the client, then 429; X-Forwarded-For from an untrusted peer changes nothing', async () => {
    expect((await clientCredentials(server, svc)).status).toBe(200);
    expect((await clientCredentials(server, other)).status).toBe(200);
    const spoofed = await tokenRequest(server.url, { grant_type: 'client_credentials', resource: API, scope: 'read' }, svc, { 'x-forwarded-for': '198.51.100.7' });
    expectRefused(spoofed, 2);
    expect(JSON.parse(spoofed.text)).toMatchObject({ error: 'temporarily_unavailable' });
  });

  test('/auth and the pages: an HTML page', async () => {
    const authorize = () => fetch(`${server.url}/auth?client_id=${svc.clientId}&response_type=code&scope=openid`, { redirect: 'manual' });
    expect((await authorize()).status).not.toBe(429);
    expect((await authorize()).status).not.toBe(429);
    const refused = await authorize();
    expectRefused(refused, 2);
    expect(refused.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await refused.text()).toContain('Too many requests');

    const page = () => fetch(`${server.url}/account`, { redirect: 'manual' });
    expect((await page()).status).not.toBe(429);
    const refusedPage = await page();
    expectRefused(refusedPage, 1);
    expect(refusedPage.headers.get('content-type')).toMatch(/^text\/html/);
    // health is never limited
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

test('a window ends and requests pass again (Retry-After says when)', async () => {
  const server = await startTestServer({ config: { rateLimits: { tokenPerClient: { limit: 1, windowSeconds: 1 } } } });
  try {
    const { svc } = await setUp(server);
    let refused = await clientCredentials(server, svc);
    // the first may straddle a window's end: take until refused
    while (refused.status === 200) refused = await clientCredentials(server, svc);
    expectRefused(refused, 1, 1);
    await new Promise((resolve) => { setTimeout(resolve, Number(refused.headers.get('retry-after')) * 1000); });
    expect((await clientCredentials(server, svc)).status).toBe(200);
  } finally {
    await server.stop();
  }
}, 30_000);

/** Alternating between the two instances, the limit is one limit. */
async function limitHoldsAcrossTwoInstances(redis: boolean) {
  const pair = await startTwoInstances({ redis, config: { rateLimits: { tokenPerClient: { limit: 4, windowSeconds: 60 } } } });
  try {
    const { svc } = await setUp(pair.a);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await clientCredentials(i % 2 ? pair.b : pair.a, svc)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  } finally {
    await pair.stop();
  }
}

const pgUp = await postgresUp();
const bothUp = pgUp && (await redisUp());
describeWithService('Postgres and Redis', bothUp)('two instances sharing Redis', () => {
  test('the limit holds across both', () => limitHoldsAcrossTwoInstances(true), 60_000);
});
describeWithService('Postgres', pgUp)('two instances sharing Postgres (token state in SQL)', () => {
  test('the limit holds across both', () => limitHoldsAcrossTwoInstances(false), 60_000);
});
