// Issue 2, "done means" 5: codes and refresh tokens are single-use under
// concurrency. Of 20 simultaneous redemptions exactly one gets 200, the others
// 400 invalid_grant, none a 5xx; on every token-state store.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, type TestServer, type TestServerOptions } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { authorize, tokenRequest, type TokenResponse } from '../support/oauth.ts';

const REDIRECT_URI = 'https://app.example.test/cb';
const RACERS = 20;

function tally(responses: TokenResponse[]) {
  return {
    ok: responses.filter((r) => r.status === 200).length,
    invalidGrant: responses.filter((r) => r.status === 400 && r.body.error === 'invalid_grant').length,
    serverErrors: responses.filter((r) => r.status >= 500).length,
    others: responses.filter((r) => r.status !== 200 && !(r.status === 400 && r.body.error === 'invalid_grant'))
      .map((r) => `${r.status} ${JSON.stringify(r.body)}`),
  };
}

function concurrencySuite(options: TestServerOptions) {
  return () => {
    let server: TestServer;
    let client: { clientId: string; clientSecret?: string };

    beforeAll(async () => {
      server = await startTestServer(options);
      await server.createUser({ username: 'racer', password: 'racer-password' });
      client = await server.createClient({
        name: 'Racer', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI],
        scopes: ['openid', 'offline_access'],
      });
    });
    afterAll(async () => { await server?.stop(); });

    const signIn = () => authorize({
      baseUrl: server.url, clientId: client.clientId, redirectUri: REDIRECT_URI,
      scope: 'openid offline_access', params: { prompt: 'consent' },
      user: { username: 'racer', password: 'racer-password' },
    });

    test(`${RACERS} simultaneous redemptions of one code: exactly one 200`, async () => {
      const { code, verifier } = await signIn();
      const responses = await Promise.all(Array.from({ length: RACERS }, () => tokenRequest(server.url, {
        grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT_URI, code_verifier: verifier,
      }, client)));
      const result = tally(responses);
      expect(result.others).toEqual([]);
      expect(result).toMatchObject({ ok: 1, invalidGrant: RACERS - 1, serverErrors: 0 });
    });

    test(`${RACERS} simultaneous refreshes with one refresh token: exactly one 200`, async () => {
      const { code, verifier } = await signIn();
      const issued = await tokenRequest(server.url, {
        grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT_URI, code_verifier: verifier,
      }, client);
      expect(issued.status).toBe(200);
      const responses = await Promise.all(Array.from({ length: RACERS }, () => tokenRequest(server.url, {
        grant_type: 'refresh_token', refresh_token: issued.body.refresh_token!,
      }, client)));
      const result = tally(responses);
      expect(result.others).toEqual([]);
      expect(result).toMatchObject({ ok: 1, invalidGrant: RACERS - 1, serverErrors: 0 });
    });
  };
}

describe('single use under concurrency: embedded database (PGlite)', concurrencySuite({}));
describeWithService('Postgres', await postgresUp())('single use under concurrency: Postgres', concurrencySuite({ database: 'postgres' }));
describeWithService('Redis', await redisUp())('single use under concurrency: Redis token state', concurrencySuite({ redis: true }));
