import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { BrowserAgent, formWithButton } from '../support/browser-agent.ts';
import { adminToken, call } from '../admin/admin-api.ts';
import { authorizationRequest, type ClientCredentials, passwordGrant } from '../support/oauth.ts';

/*
 * Every spelling of a username that finds the account counts its failures in
 * the account's one lockout bucket, and a spelling that is another username
 * finds no account. Before, the account lookup used Postgres lower() and the
 * lockout keys JavaScript NFKC + toLowerCase: "kİss" (dotted capital I) found
 * "kiss" in Postgres but counted its failures apart, and "kiß" or "ｋｉｓｓ"
 * counted against "kiss" but could not sign in to it.
 */

const PASSWORD = 'correct horse battery staple';
const WRONG = 'not the password';
const REDIRECT_URI = 'https://app.example.test/callback';
const LOCKOUT = { maxConsecutiveFailures: 10, baseDelaySeconds: 30, maxDelaySeconds: 60, perIpPerMinute: 10000, perIpAndUsernamePerMinute: 10000 };

/** Spellings of "kiss": case, Kelvin sign, sharp s, full-width, white space, a zero-width space. */
const SPELLINGS = ['kiss', 'KISS', '\u212Aiss', 'kiß', 'KIẞ', 'ｋｉｓｓ', '  Kiss ', 'ki\u200Bss'];
/** Another username for caseless matching, though Postgres lower() (C.UTF-8, glibc) takes it for "kiss". */
const DOTTED_CAPITAL_I = 'kİss';

function variantSuite(options: Parameters<typeof startTestServer>[0]) {
  let server: TestServer;
  let client: ClientCredentials;
  beforeAll(async () => {
    server = await startTestServer({ ...options, config: { lockout: LOCKOUT } });
    client = await server.createClient({
      name: 'app', firstParty: true, grantTypes: ['password', 'authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid'],
    });
    await server.createUser({ username: 'kiss', password: PASSWORD });
  });
  afterAll(async () => { await server?.stop(); });

  const attempt = (username: string, password: string) => passwordGrant(server.url, client, { username, password, scope: 'openid' });

  test('every spelling signs in to the one account; the admin API finds it by any case', async () => {
    for (const spelling of SPELLINGS) {
      const res = await attempt(spelling, PASSWORD);
      expect({ spelling, status: res.status }).toEqual({ spelling, status: 200 });
    }
    const found = await call(server, await adminToken(server), 'GET', '/users/KISS');
    expect(found.body).toMatchObject({ username: 'kiss' });
  });

  test('another username that Postgres lower() merged with it signs in to nothing', async () => {
    const res = await attempt(DOTTED_CAPITAL_I, PASSWORD);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  test('failures under different spellings add up in one lockout bucket, which every spelling then meets', async () => {
    for (let i = 0; i < LOCKOUT.maxConsecutiveFailures; i++) {
      expect((await attempt(SPELLINGS[i % SPELLINGS.length], WRONG)).status).toBe(400);
    }
    for (const spelling of SPELLINGS) {
      const res = await attempt(spelling, PASSWORD);
      expect({ spelling, status: res.status, error: res.body.error }).toEqual({ spelling, status: 429, error: 'too_many_attempts' });
    }
    // no spelling gets round the lock to the password check
    expect((await attempt(DOTTED_CAPITAL_I, PASSWORD)).status).not.toBe(200);

    // the login page is in the same bucket
    const { url } = authorizationRequest({ baseUrl: server.url, clientId: client.clientId, redirectUri: REDIRECT_URI, scope: 'openid' });
    const agent = new BrowserAgent();
    const { response: loginPage } = await agent.follow(url);
    const { response } = await agent.submit(loginPage, formWithButton(loginPage.text, 'Sign in'), { username: 'ＫＩＳＳ', password: PASSWORD });
    expect(response.status).toBe(429);
  });
}

describeWithService('Postgres and Redis', await postgresUp() && await redisUp())('username spellings on Postgres, lockout in Redis', () => {
  variantSuite({ database: 'postgres', redis: true });
});

describeWithService('Postgres', await postgresUp())('username spellings on Postgres, lockout in SQL', () => {
  variantSuite({ database: 'postgres' });
});

describe('username spellings on the embedded database', () => {
  variantSuite({});
});
