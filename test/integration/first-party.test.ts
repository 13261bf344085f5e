// First-party apps skip the consent page (DESIGN: --first-party skips consent),
// including when they ask for a refresh token: OIDC makes offline_access
// require prompt=consent, and a first-party app must not be shown the consent
// page for that. Third-party apps always are.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorize, tokenRequest } from '../support/oauth.ts';

const REDIRECT_URI = 'https://app.example.test/cb';

describe('consent for first-party and third-party apps', () => {
  let server: TestServer;
  const user = { username: 'fp', password: 'first-party-password' };

  beforeAll(async () => {
    server = await startTestServer();
    await server.createUser(user);
  });
  afterAll(async () => { await server?.stop(); });

  const client = (firstParty: boolean, isPublic = false) => server.createClient({
    name: firstParty ? 'Our app' : 'Their app',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: [REDIRECT_URI],
    scopes: ['openid', 'profile', 'offline_access'],
    firstParty,
    public: isPublic,
  });

  for (const isPublic of [false, true]) {
    test(`a first-party ${isPublic ? 'public (SPA)' : 'confidential'} app gets a refresh token with the login page only`, async () => {
      const app = await client(true, isPublic);
      const result = await authorize({
        baseUrl: server.url, clientId: app.clientId, redirectUri: REDIRECT_URI,
        scope: 'openid profile offline_access', params: { prompt: 'consent' }, user,
      });
      expect(result.pages).toEqual(['login']);
      const tokens = await tokenRequest(server.url, {
        grant_type: 'authorization_code', code: result.code!, redirect_uri: REDIRECT_URI, code_verifier: result.verifier,
      }, app);
      expect(tokens.status).toBe(200);
      expect(tokens.body.scope!.split(' ').sort()).toEqual(['offline_access', 'openid', 'profile']);
      expect(tokens.body.refresh_token).toEqual(expect.any(String));

      const refreshed = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token! }, app);
      expect(refreshed.status).toBe(200);
    });
  }

  test('a first-party app without prompt=consent: login page only, no refresh token (OIDC drops offline_access)', async () => {
    const app = await client(true);
    const result = await authorize({ baseUrl: server.url, clientId: app.clientId, redirectUri: REDIRECT_URI, scope: 'openid offline_access', user });
    expect(result.pages).toEqual(['login']);
    const tokens = await tokenRequest(server.url, {
      grant_type: 'authorization_code', code: result.code!, redirect_uri: REDIRECT_URI, code_verifier: result.verifier,
    }, app);
    expect(tokens.body.refresh_token).toBeUndefined();
  });

  test('a third-party app is shown the consent page, every time prompt=consent asks for it', async () => {
    const app = await client(false);
    const first = await authorize({
      baseUrl: server.url, clientId: app.clientId, redirectUri: REDIRECT_URI,
      scope: 'openid offline_access', params: { prompt: 'consent' }, user,
    });
    expect(first.pages).toEqual(['login', 'consent']);
    const second = await authorize({
      baseUrl: server.url, clientId: app.clientId, redirectUri: REDIRECT_URI,
      scope: 'openid offline_access', params: { prompt: 'consent' }, agent: first.agent,
    });
    expect(second.pages).toEqual(['consent']);
    const third = await authorize({ baseUrl: server.url, clientId: app.clientId, redirectUri: REDIRECT_URI, scope: 'openid', agent: first.agent });
    expect(third.pages).toEqual([]);
  });

  test('a third-party app that is denied gets access_denied', async () => {
    const app = await client(false);
    const result = await authorize({
      baseUrl: server.url, clientId: app.clientId, redirectUri: REDIRECT_URI, scope: 'openid', user, consent: 'Deny',
    });
    expect(result.pages).toEqual(['login', 'consent']);
    expect(result.callback.searchParams.get('error')).toBe('access_denied');
    expect(result.code).toBeUndefined();
  });
});
