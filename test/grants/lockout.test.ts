import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, redisUp } from '../support/services.ts';
import { BrowserAgent, formWithButton } from '../support/browser-agent.ts';
import { sleep } from './helpers.ts';
import { authorizationRequest, type ClientCredentials, passwordGrant, type TokenResponse } from '../support/oauth.ts';

const PASSWORD = 'correct horse battery staple';
const WRONG = 'not the password';
const REDIRECT_URI = 'https://app.example.test/callback';

// 10 consecutive failures lock an account for 2 s, then 4 s, ...; the per-IP
// limits are high here so that the account lock is what is tested.
const LOCKOUT = {
  maxConsecutiveFailures: 10,
  baseDelaySeconds: 2,
  maxDelaySeconds: 60,
  perIpPerMinute: 10000,
  perIpAndUsernamePerMinute: 10000,
};

interface Instance { server: TestServer; client: ClientCredentials }

async function prepare(server: TestServer, usernames: string[]): Promise<Instance> {
  const client = await server.createClient({
    name: 'app', firstParty: true, grantTypes: ['password', 'authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid'],
  });
  // each test server has its own accounts database: the same users on each
  for (const username of usernames) await server.createUser({ username, password: PASSWORD });
  return { server, client };
}

const attempt = (instance: Instance, username: string, password: string) =>
  passwordGrant(instance.server.url, instance.client, { username, password, scope: 'openid' });

function expectLocked(res: TokenResponse, maxSeconds: number): number {
  expect(res.status).toBe(429);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.body.error).toBe('too_many_attempts');
  expect(res.body.access_token).toBeUndefined();
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
  return retryAfter;
}

/**
 * The lockout story, on one or more instances: attempts go round-robin over
 * them, so on two instances each sees only half of the failures.
 */
function lockoutSuite(instances: () => Instance[]) {
  const on = (i: number) => instances()[i % instances().length];

  test('10 wrong passwords lock the account: 429 with Retry-After even with the right password, everywhere, until the delay passes', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await attempt(on(i), 'carol', WRONG);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
    }
    let retryAfter = 0;
    for (let i = 0; i < instances().length; i++) {
      retryAfter = expectLocked(await attempt(on(i), 'carol', PASSWORD), LOCKOUT.baseDelaySeconds);
      // usernames are case-insensitive: no way around the lock
      expectLocked(await attempt(on(i), '  CAROL ', PASSWORD), LOCKOUT.baseDelaySeconds);
    }
    // other accounts are not affected
    expect((await attempt(on(0), 'dave', PASSWORD)).status).toBe(200);

    await sleep(retryAfter * 1000 + 300);
    const res = await attempt(on(1), 'carol', PASSWORD);
    expect(res.status).toBe(200);
    expect(res.body.access_token).toBeDefined();

    // the success reset the count: 9 more failures do not lock
    for (let i = 0; i < 9; i++) expect((await attempt(on(i), 'carol', WRONG)).status).toBe(400);
    expect((await attempt(on(0), 'carol', PASSWORD)).status).toBe(200);
  });

  test('the delay grows with every failure past the threshold', async () => {
    for (let i = 0; i < 10; i++) expect((await attempt(on(i), 'erin', WRONG)).status).toBe(400);
    const first = expectLocked(await attempt(on(0), 'erin', WRONG), LOCKOUT.baseDelaySeconds);
    await sleep(first * 1000 + 300);
    // one attempt gets through after the delay; it fails, and the next lock is twice as long
    expect((await attempt(on(1), 'erin', WRONG)).status).toBe(400);
    const second = expectLocked(await attempt(on(0), 'erin', PASSWORD), 2 * LOCKOUT.baseDelaySeconds);
    expect(second).toBeGreaterThan(LOCKOUT.baseDelaySeconds);
  });

  test('an unknown username locks exactly like a real one, so locking reveals nothing', async () => {
    const known: TokenResponse[] = [];
    const unknown: TokenResponse[] = [];
    for (let i = 0; i < 11; i++) {
      known.push(await attempt(on(i), 'frank', WRONG));
      unknown.push(await attempt(on(i), 'nobody', WRONG));
    }
    expect(known.map((r) => r.status)).toEqual(unknown.map((r) => r.status));
    expect(known[10].status).toBe(429);
    expect(unknown[10].body).toEqual(known[10].body);
  });

  test('attempts running at the same time cannot slip past the threshold', async () => {
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => attempt(on(i), 'grace', WRONG)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 400)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    expectLocked(await attempt(on(0), 'grace', PASSWORD), LOCKOUT.baseDelaySeconds);
  });
}

const USERS = ['carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];

describeWithService('Redis', await redisUp())('password lockout across two instances sharing Redis', () => {
  let a: Instance;
  let b: Instance;
  beforeAll(async () => {
    const redisKeyPrefix = `tessera-test:${randomBytes(6).toString('hex')}:`;
    const options = { redis: true, redisKeyPrefix, config: { lockout: LOCKOUT } };
    a = await prepare(await startTestServer(options), USERS);
    b = await prepare(await startTestServer(options), USERS);
  });
  afterAll(async () => {
    await a?.server.stop();
    await b?.server.stop();
  });

  test('the lockout counters are in Redis', () => {
    expect(a.server.tokenState.kind).toBe('redis');
    expect(b.server.config.redis.keyPrefix).toBe(a.server.config.redis.keyPrefix);
  });

  lockoutSuite(() => [a, b]);
});

describe('password lockout on the embedded SQL store', () => {
  let one: Instance;
  beforeAll(async () => {
    one = await prepare(await startTestServer({ config: { lockout: LOCKOUT } }), USERS);
  });
  afterAll(async () => { await one?.server.stop(); });

  test('the lockout counters are in SQL', async () => {
    expect(one.server.tokenState.kind).toBe('sql');
    expect(one.server.db.kind).toBe('pglite');
  });

  lockoutSuite(() => [one]);

  test('the login page shares the lock: 429 with a clear message and Retry-After', async () => {
    for (let i = 0; i < 10; i++) expect((await attempt(one, 'heidi', WRONG)).status).toBe(400);

    const { url } = authorizationRequest({ baseUrl: one.server.url, clientId: one.client.clientId, redirectUri: REDIRECT_URI, scope: 'openid' });
    const agent = new BrowserAgent();
    const { response: loginPage } = await agent.follow(url);
    expect(loginPage.status).toBe(200);
    const { response } = await agent.submit(loginPage, formWithButton(loginPage.text, 'Sign in'), { username: 'Heidi', password: PASSWORD });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(response.text).toMatch(/Too many attempts\. Try again in \d+ seconds?\./);
  });
});

describe('per-IP limits', () => {
  let one: Instance;
  beforeAll(async () => {
    one = await prepare(await startTestServer({
      config: { lockout: { ...LOCKOUT, maxConsecutiveFailures: 1000, perIpPerMinute: 8, perIpAndUsernamePerMinute: 3 } },
    }), ['ivan', 'judy']);
  });
  afterAll(async () => { await one?.server.stop(); });

  test('failures of one username from one address, then of any username from it, are limited per minute', async () => {
    for (let i = 0; i < 3; i++) expect((await attempt(one, 'ivan', WRONG)).status).toBe(400);
    expectLocked(await attempt(one, 'ivan', PASSWORD), 60);
    // another username from the same address still has its own allowance...
    expect((await attempt(one, 'judy', PASSWORD)).status).toBe(200);
    // ...until the address as a whole has used its own
    for (let i = 0; i < 5; i++) expect((await attempt(one, `user${i}`, WRONG)).status).toBe(400);
    expectLocked(await attempt(one, 'judy', PASSWORD), 60);
  });
});
