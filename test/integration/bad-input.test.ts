// Issue 2, "done means" 6: bad input gets the right 4xx, never a 5xx, never
// a redirect to an unregistered place. (The admin API's bad-input cases live
// with the admin API's tests.)
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorize, basicAuth, pkcePair, tokenRequest } from '../support/oauth.ts';
import { BrowserAgent, formWithButton } from '../support/browser-agent.ts';

const REDIRECT_URI = 'https://app.example.test/cb';
const ONE_MB = 1024 * 1024;
type RequestBody = NonNullable<RequestInit['body']>;

describe('bad input', () => {
  let server: TestServer;
  let client: { clientId: string; clientSecret?: string };

  beforeAll(async () => {
    server = await startTestServer();
    await server.createUser({ username: 'bob', password: 'bob-password-1' });
    client = await server.createClient({
      name: 'App', grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'], redirectUris: [REDIRECT_URI],
      scopes: ['openid', 'offline_access'],
    });
  });
  afterAll(async () => { await server?.stop(); });

  const signIn = () => authorize({
    baseUrl: server.url, clientId: client.clientId, redirectUri: REDIRECT_URI, scope: 'openid',
    user: { username: 'bob', password: 'bob-password-1' },
  });

  async function post(path: string, body: RequestBody, headers: Record<string, string>) {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', body, headers: { accept: 'application/json', ...headers } });
    const text = await res.text();
    let json: Record<string, unknown> | undefined;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
  }

  describe('client authentication', () => {
    test('a wrong secret (client_secret_basic) is 401 invalid_client', async () => {
      const res = await tokenRequest(server.url, { grant_type: 'client_credentials' }, { clientId: client.clientId, clientSecret: 'wrong-secret' });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
    });

    test('a wrong secret sent in the body (a method the client is not registered for) is 401 invalid_client', async () => {
      const res = await post('/token', new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: 'wrong' }), {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(res.status).toBe(401);
      expect(res.json?.error).toBe('invalid_client');
    });

    test('an unknown client is 401 invalid_client', async () => {
      const res = await tokenRequest(server.url, { grant_type: 'client_credentials' }, { clientId: 'no-such-client', clientSecret: 'x' });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    });

    test('the right secret with a different case or a suffix is still wrong', async () => {
      for (const secret of [client.clientSecret!.toUpperCase(), `${client.clientSecret}x`, client.clientSecret!.slice(0, -1)]) {
        const res = await tokenRequest(server.url, { grant_type: 'client_credentials' }, { clientId: client.clientId, clientSecret: secret });
        expect(res.status).toBe(401);
      }
    });
  });

  describe('redirect_uri', () => {
    const authUrl = (redirectUri: string | undefined) => {
      const url = new URL('/auth', server.url);
      const { challenge } = pkcePair();
      const params: Record<string, string> = { client_id: client.clientId, response_type: 'code', scope: 'openid', state: 's', code_challenge: challenge, code_challenge_method: 'S256' };
      if (redirectUri !== undefined) params.redirect_uri = redirectUri;
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      return url.href;
    };

    for (const [name, redirectUri] of [
      ['an unregistered one', 'https://evil.example.test/cb'],
      ['a registered one with an extra path', `${REDIRECT_URI}/more`],
      ['a registered one with a query added', `${REDIRECT_URI}?x=1`],
      ['a registered one with a trailing slash', `${REDIRECT_URI}/`],
      ['none at all', undefined],
    ] as const) {
      test(`${name}: an HTML error page with status 400, no redirect`, async () => {
        const res = await fetch(authUrl(redirectUri), { redirect: 'manual', headers: { accept: 'text/html' } });
        expect(res.status).toBe(400);
        expect(res.headers.get('location')).toBeNull();
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        const page = await res.text();
        expect(page).toContain('<h1>');
        expect(page).not.toMatch(/evil\.example\.test|at \w+ \(|node_modules/); // no echo, no stack
      });
    }

    test('a registered redirect_uri without PKCE: redirected back with invalid_request, not signed in', async () => {
      const url = new URL('/auth', server.url);
      for (const [k, v] of Object.entries({ client_id: client.clientId, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, state: 's' })) url.searchParams.set(k, v);
      const res = await fetch(url, { redirect: 'manual' });
      expect([302, 303]).toContain(res.status);
      const location = new URL(res.headers.get('location')!);
      expect(location.href.startsWith(REDIRECT_URI)).toBe(true);
      expect(location.searchParams.get('error')).toBe('invalid_request');
    });
  });

  describe('PKCE at the token endpoint', () => {
    test('a missing code_verifier is invalid_grant', async () => {
      const { code } = await signIn();
      const res = await tokenRequest(server.url, { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT_URI }, client);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
    });

    test('a wrong code_verifier is invalid_grant', async () => {
      const { code } = await signIn();
      const res = await tokenRequest(server.url, {
        grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT_URI, code_verifier: pkcePair().verifier,
      }, client);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
    });
  });

  describe('large and malformed bodies: 4xx JSON, never a 5xx', () => {
    const auth = () => ({ authorization: basicAuth(client) });
    // '4xx': must be refused; 'no 5xx': may be accepted leniently (RFC 7009: revocation
    // of a token it does not know answers 200), must never fail on the server side
    const cases: Array<[string, string, () => { body: RequestBody; headers: Record<string, string> }, ('4xx' | 'no 5xx')?]> = [
      ['1 MB form body', '/token', () => ({ body: `grant_type=client_credentials&x=${'a'.repeat(ONE_MB)}`, headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth() } })],
      ['1 MB form body, unauthenticated', '/token', () => ({ body: `grant_type=client_credentials&x=${'a'.repeat(ONE_MB)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } })],
      ['1 MB JSON body', '/token', () => ({ body: JSON.stringify({ grant_type: 'client_credentials', x: 'a'.repeat(ONE_MB) }), headers: { 'content-type': 'application/json', ...auth() } })],
      ['1 MB of binary', '/token', () => ({ body: new Uint8Array(ONE_MB).fill(0xff), headers: { 'content-type': 'application/octet-stream', ...auth() } })],
      ['broken percent-encoding', '/token', () => ({ body: 'grant_type=%zz&code=%', headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth() } })],
      ['broken JSON', '/token', () => ({ body: '{"grant_type":', headers: { 'content-type': 'application/json', ...auth() } })],
      ['an unknown charset', '/token', () => ({ body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=bogus', ...auth() } }), 'no 5xx'],
      ['no content type', '/token', () => ({ body: 'grant_type=client_credentials', headers: { ...auth() } })],
      ['a repeated parameter', '/token', () => ({ body: 'grant_type=client_credentials&grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth() } })],
      ['an array-style parameter', '/token', () => ({ body: 'grant_type[]=client_credentials&scope[x]=1', headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth() } })],
      ['an unknown grant type', '/token', () => ({ body: 'grant_type=urn:x', headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth() } })],
      ['a malformed Basic header', '/token', () => ({ body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic %%%' } })],
      ['a Basic header with invalid percent-encoding', '/token', () => ({ body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('%zz:%zz').toString('base64')}` } })],
      ['1 MB to introspection', '/token/introspection', () => ({ body: `token=${'a'.repeat(ONE_MB)}`, headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth() } })],
      ['1 MB to revocation', '/token/revocation', () => ({ body: `token=${'a'.repeat(ONE_MB)}`, headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth() } })],
      ['broken percent-encoding to revocation', '/token/revocation', () => ({ body: 'token=%zz', headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth() } }), 'no 5xx'],
      ['1 MB to PAR', '/request', () => ({ body: `client_id=x&${'a'.repeat(ONE_MB)}`, headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth() } })],
    ];
    for (const [name, path, make, expected = '4xx'] of cases) {
      test(`${name} → ${path}: ${expected}`, async () => {
        const { body, headers } = make();
        const res = await post(path, body, headers);
        expect(res.status).toBeLessThan(500);
        if (expected === '4xx') {
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.headers.get('content-type')).toMatch(/^application\/json/);
          expect(res.json).toEqual(expect.objectContaining({ error: expect.any(String) }));
        }
        expect(res.text).not.toMatch(/at \w+ \(|node_modules/);
      });
    }

    test('the server is still fine afterwards', async () => {
      const res = await tokenRequest(server.url, { grant_type: 'client_credentials' }, client);
      expect(res.status).toBe(200);
    });
  });

  describe('the interaction forms', () => {
    test('a 1 MB login form is refused with a page (413), not a 5xx', async () => {
      const agent = new BrowserAgent();
      const url = new URL('/auth', server.url);
      const { challenge } = pkcePair();
      for (const [k, v] of Object.entries({ client_id: client.clientId, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, code_challenge: challenge, code_challenge_method: 'S256' })) url.searchParams.set(k, v);
      const { response: page } = await agent.follow(url.href);
      const form = formWithButton(page.text, 'Sign in');
      const { response } = await agent.submit(page, form, { username: 'bob', password: 'p'.repeat(ONE_MB) });
      expect(response.status).toBe(413);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);

      // the same form still works with sane input
      const toClient = (location: string) => location.startsWith(REDIRECT_URI);
      const { response: consent } = await agent.submit(page, form, { username: 'bob', password: 'bob-password-1' }, toClient);
      const { stoppedAt } = await agent.submit(consent, formWithButton(consent.text, 'Allow'), {}, toClient);
      expect(new URL(stoppedAt!).searchParams.get('code')).toEqual(expect.any(String));
    });
  });
});
