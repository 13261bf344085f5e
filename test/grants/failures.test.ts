import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/server.ts';
import { GENEROUS_LOCKOUT } from './helpers.ts';
import { type ClientCredentials, passwordGrant, type TokenResponse } from '../support/oauth.ts';

const PASSWORD = 'correct horse battery staple';

/** Every header but those that differ per response by nature. */
function comparableHeaders(res: TokenResponse): Array<[string, string]> {
  return [...res.headers.entries()].filter(([name]) => !['date', 'x-request-id'].includes(name)).sort();
}

describe('unknown user and wrong password cannot be told apart', () => {
  let server: TestServer;
  let app: ClientCredentials;
  beforeAll(async () => {
    server = await startTestServer({ config: { lockout: GENEROUS_LOCKOUT } });
    app = await server.createClient({ name: 'app', firstParty: true, grantTypes: ['password'], scopes: ['openid'] });
    await server.createUser({ username: 'alice', password: PASSWORD });
  });
  afterAll(async () => { await server?.stop(); });

  test('identical status, body and headers (but Date and X-Request-Id)', async () => {
    for (let i = 0; i < 3; i++) {
      const wrongPassword = await passwordGrant(server.url, app, { username: 'alice', password: 'not the password', scope: 'openid' });
      const unknownUser = await passwordGrant(server.url, app, { username: 'mallory', password: PASSWORD, scope: 'openid' });
      expect(wrongPassword.status).toBe(400);
      expect(wrongPassword.body).toEqual({ error: 'invalid_grant', error_description: 'grant request is invalid' });
      expect(unknownUser.status).toBe(wrongPassword.status);
      expect(unknownUser.text).toBe(wrongPassword.text);
      expect(comparableHeaders(unknownUser)).toEqual(comparableHeaders(wrongPassword));
    }
  });

  test('a disabled user answers the same as well', async () => {
    const carol = await server.createUser({ username: 'carol', password: PASSWORD });
    await server.services.accounts.setDisabled(carol.id, true);
    const disabled = await passwordGrant(server.url, app, { username: 'carol', password: PASSWORD, scope: 'openid' });
    const unknownUser = await passwordGrant(server.url, app, { username: 'mallory', password: PASSWORD, scope: 'openid' });
    expect(disabled.text).toBe(unknownUser.text);
    expect(comparableHeaders(disabled)).toEqual(comparableHeaders(unknownUser));
  });
});
