import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { BrowserAgent, formWithButton } from '../support/browser-agent.ts';
import { decodeJwt, GENEROUS_LOCKOUT } from './helpers.ts';
import { authorizationRequest, type ClientCredentials, passwordGrant, tokenRequest, type TokenResponse } from '../support/oauth.ts';

const API = 'https://api.example.test';
const REDIRECT_URI = 'https://app.example.test/callback';

function expectBusy(res: TokenResponse): void {
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('1');
  expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: 'the server is busy; try again shortly' });
}

describe('password hashing under load', () => {
  let server: TestServer;
  let app: ClientCredentials;
  let service: ClientCredentials;
  beforeAll(async () => {
    server = await startTestServer({
      config: {
        lockout: GENEROUS_LOCKOUT,
        // the real (OWASP) cost, and the default bounds: 4 running, 64 waiting
        passwordHashing: { memoryCost: 19456, timeCost: 2, parallelism: 1, maxConcurrent: 4, maxQueued: 64 },
      },
    });
    await server.services.resources.create({ identifier: API, scopes: ['read'] });
    app = await server.createClient({ name: 'app', firstParty: true, grantTypes: ['password'], scopes: ['openid'] });
    service = await server.createClient({ name: 'service', grantTypes: ['client_credentials'], scopes: ['read'] });
  });
  afterAll(async () => { await server?.stop(); });

  test('while 200 password grants run, client_credentials still succeeds; password grants get a verdict or 503 + Retry-After', async () => {
    let settled = 0;
    const load = Array.from({ length: 200 }, (_, i) =>
      passwordGrant(server.url, app, { username: `load-${i}`, password: `guess-${i}`, scope: 'openid' })
        .finally(() => { settled++; }));

    const cc = await tokenRequest(server.url, { grant_type: 'client_credentials', resource: API, scope: 'read' }, service);
    const settledWhenServed = settled;
    expect(cc.status).toBe(200);
    expect(decodeJwt(cc.body.access_token!).payload).toMatchObject({ aud: API, scope: 'read' });

    const answers = await Promise.all(load);
    // the service was not starved: it was answered while password grants were still waiting
    expect(settledWhenServed).toBeLessThan(200);
    for (const res of answers) {
      if (res.status === 503) expectBusy(res);
      else expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'grant request is invalid' });
    }
    // (Whether any got 503 depends on how fast requests reach the hasher compared
    // with how fast it drains; the next block fills the queue deterministically.)
  }, 180_000);
});

describe('hashing at capacity', () => {
  let server: TestServer;
  let app: ClientCredentials;
  beforeAll(async () => {
    server = await startTestServer({
      config: {
        lockout: GENEROUS_LOCKOUT,
        // one slot, no queue, and a hash that takes about a second
        passwordHashing: { memoryCost: 65536, timeCost: 20, parallelism: 1, maxConcurrent: 1, maxQueued: 0 },
      },
    });
    app = await server.createClient({
      name: 'app', firstParty: true, grantTypes: ['password', 'authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid'],
    });
  });
  afterAll(async () => { await server?.stop(); });

  test('the token endpoint answers 503 with Retry-After and a JSON error, and recovers', async () => {
    const occupied = server.services.hasher.hash('occupies the only slot');
    expectBusy(await passwordGrant(server.url, app, { username: 'someone', password: 'something' }));
    await occupied;
    const after = await passwordGrant(server.url, app, { username: 'someone', password: 'something' });
    expect(after.status).toBe(400);
    expect(after.body.error).toBe('invalid_grant');
  });

  test('the login page answers 503 with Retry-After', async () => {
    const { url } = authorizationRequest({ baseUrl: server.url, clientId: app.clientId, redirectUri: REDIRECT_URI, scope: 'openid' });
    const agent = new BrowserAgent();
    const { response: loginPage } = await agent.follow(url);
    expect(loginPage.status).toBe(200);

    const occupied = server.services.hasher.hash('occupies the only slot');
    const { response } = await agent.submit(loginPage, formWithButton(loginPage.text, 'Sign in'), { username: 'someone', password: 'something' });
    await occupied;
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(response.text).toContain('Temporarily unavailable');
  });
});
