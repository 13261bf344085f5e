// Issue 10, "clear errors for expired codes": a refused authorization code
// says why in error_description (before: "grant request is invalid" for
// every reason), and an unknown, expired, used or another client's code all
// get one and the same answer, so the description confirms nothing.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorize, tokenRequest } from '../support/oauth.ts';

// long enough for a sign-in and an exchange on a loaded machine, short enough to wait out once
const CODE_TTL_SECONDS = 5;
const REDIRECT_URI = 'https://app.example.test/callback';
const USER = { username: 'hana', password: 'hana has a long passphrase' };
const NOT_USABLE = new RegExp(`^the authorization code is expired, already used, revoked, or was not issued to this client: a code is valid for ${CODE_TTL_SECONDS} seconds and for one exchange`);

describe('a refused authorization code says why', () => {
  let server: TestServer;
  let client: { clientId: string; clientSecret?: string };
  let other: { clientId: string; clientSecret?: string };

  beforeAll(async () => {
    server = await startTestServer({ config: { ttl: { authorizationCode: CODE_TTL_SECONDS } } });
    await server.createUser(USER);
    const registration = { grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scopes: ['openid'], firstParty: true };
    client = await server.createClient({ name: 'Notes', ...registration });
    other = await server.createClient({ name: 'Other', ...registration });
  });
  afterAll(async () => { await server?.stop(); });

  const signIn = () => authorize({ baseUrl: server.url, clientId: client.clientId, redirectUri: REDIRECT_URI, scope: 'openid', user: USER });
  const exchange = (session: { code?: string; verifier: string }, overrides: Record<string, string> = {}, by = client) => tokenRequest(server.url, {
    grant_type: 'authorization_code', code: session.code!, redirect_uri: REDIRECT_URI, code_verifier: session.verifier, ...overrides,
  }, by);

  test('an expired code: invalid_grant, and the description says codes expire (and after how long)', async () => {
    const session = await signIn();
    await new Promise((resolve) => setTimeout(resolve, (CODE_TTL_SECONDS + 1) * 1000));
    const res = await exchange(session);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect(res.body.error_description).toMatch(NOT_USABLE);
  });

  test('a used, a made-up and another client\'s code get the same answer as an expired one', async () => {
    const session = await signIn();
    expect((await exchange(session)).status).toBe(200);
    const used = await exchange(session);
    const madeUp = await exchange({ ...session, code: 'A'.repeat(43) });
    const stolen = await signIn();
    const otherClients = await exchange(stolen, {}, other);
    for (const res of [used, madeUp, otherClients]) {
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_grant', error_description: expect.stringMatching(NOT_USABLE) });
    }
  });

  test('a wrong code_verifier or redirect_uri is named; the code stays good for the right ones', async () => {
    const session = await signIn();
    const wrongVerifier = await exchange(session, { code_verifier: 'x'.repeat(43) });
    expect(wrongVerifier.body).toEqual({ error: 'invalid_grant', error_description: 'code_verifier does not match the code_challenge of the authorization request' });
    const wrongRedirect = await exchange(session, { redirect_uri: 'https://app.example.test/elsewhere' });
    expect(wrongRedirect.body).toEqual({ error: 'invalid_grant', error_description: 'redirect_uri differs from the one of the authorization request' });
    expect((await exchange(session)).status).toBe(200);
  });

  test('other grants keep the provider\'s answer', async () => {
    const res = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: 'B'.repeat(43) }, client);
    expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'grant request is invalid' });
  });
});
