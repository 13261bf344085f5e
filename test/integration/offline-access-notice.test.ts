// Issue 10, "clear errors for offline_access without consent": OpenID Connect
// drops offline_access from a request without prompt=consent (and the provider
// drops it for a client without the refresh_token grant). The request still
// succeeds, without a refresh token; the log names the client and the reason,
// once per client.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorize, tokenRequest } from '../support/oauth.ts';

const REDIRECT_URI = 'https://app.example.test/callback';
const USER = { username: 'ines', password: 'ines has a long passphrase' };

describe('offline_access dropped from an authorization request is named in the log', () => {
  let server: TestServer;
  const lines: Array<Record<string, unknown>> = [];
  const notices = (clientId: string) => lines.filter((l) => l.clientId === clientId && /offline_access was dropped/.test(String(l.msg)));

  beforeAll(async () => {
    server = await startTestServer({ logDestination: { write: (line: string) => { lines.push(JSON.parse(line)); } } });
    await server.createUser(USER);
  });
  afterAll(async () => { await server?.stop(); });

  async function signInAndExchange(client: { clientId: string; clientSecret?: string }, params: Record<string, string> = {}) {
    const session = await authorize({
      baseUrl: server.url, clientId: client.clientId, redirectUri: REDIRECT_URI, scope: 'openid offline_access', user: USER, params,
    });
    const res = await tokenRequest(server.url, {
      grant_type: 'authorization_code', code: session.code!, redirect_uri: REDIRECT_URI, code_verifier: session.verifier,
    }, client);
    expect(res.status).toBe(200);
    return res.body;
  }

  test('without prompt=consent: no refresh token, and one log line naming the client and prompt=consent', async () => {
    const client = await server.createClient({
      name: 'Diary', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scopes: ['openid', 'offline_access'], firstParty: true,
    });
    const tokens = await signInAndExchange(client);
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.scope).toBe('openid');
    expect(notices(client.clientId)).toEqual([
      expect.objectContaining({ level: 30, msg: expect.stringMatching(/no refresh token will be issued: the request has no prompt=consent/) }),
    ]);

    await signInAndExchange(client); // the same mistake again: not repeated in the log
    expect(notices(client.clientId)).toHaveLength(1);

    // asked right, the same client gets its refresh token, and nothing is logged
    const asked = await signInAndExchange(client, { prompt: 'consent' });
    expect(asked.refresh_token).toEqual(expect.any(String));
    expect(notices(client.clientId)).toHaveLength(1);
  });

  test('a client without the refresh_token grant: the log says so', async () => {
    const client = await server.createClient({
      name: 'Ledger', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid', 'offline_access'], firstParty: true,
    });
    const tokens = await signInAndExchange(client, { prompt: 'consent' });
    expect(tokens.refresh_token).toBeUndefined();
    expect(notices(client.clientId)).toEqual([
      expect.objectContaining({ msg: expect.stringMatching(/the client is not registered for the refresh_token grant/) }),
    ]);
  });

  test('a request that does not ask for offline_access logs nothing', async () => {
    const client = await server.createClient({
      name: 'Album', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scopes: ['openid'], firstParty: true,
    });
    const session = await authorize({ baseUrl: server.url, clientId: client.clientId, redirectUri: REDIRECT_URI, scope: 'openid', user: USER });
    expect(session.code).toEqual(expect.any(String));
    expect(notices(client.clientId)).toEqual([]);
  });
});
