// The password grant's handler on its own: a bare oidc-provider with one
// static client and the grant registered from `passwordGrant` (parameters +
// buildHandler(deps)), its dependencies given by the test. What the handler
// decides is checked here; the grant inside Tessera (accounts, lockout, stores)
// is test/grants/password.test.ts.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { passwordGrant, type PasswordGrantDependencies } from '../../src/grants/index.ts';
import type { CredentialCheck } from '../../src/accounts/service.ts';
import { decodeJwt } from './helpers.ts';
import { tokenRequest } from '../support/oauth.ts';

const FIRST_PARTY = { clientId: 'first-party', clientSecret: 'first-party-secret-first-party-secret' };
const THIRD_PARTY = { clientId: 'third-party', clientSecret: 'third-party-secret-third-party-secret' };

describe('passwordGrant.buildHandler', () => {
  let server: Server;
  let url: string;
  const checks: Array<{ username: string; password: string }> = [];
  let verdict: CredentialCheck = { ok: true, accountId: 'account-1' };

  beforeAll(async () => {
    const deps: PasswordGrantDependencies = {
      async verifyCredentials(username, password) {
        checks.push({ username, password });
        return verdict;
      },
      findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, email: 'someone@example.test' }) }),
      getResourceServerInfo: async () => ({ scope: 'read', audience: 'https://api.example.test', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
    };
    const client = (c: typeof FIRST_PARTY, firstParty: boolean) => ({
      client_id: c.clientId, client_secret: c.clientSecret, grant_types: ['password', 'refresh_token'], response_types: [], redirect_uris: [],
      first_party: firstParty, allowed_scopes: ['openid', 'email', 'offline_access', 'read'], scope: 'openid email offline_access',
    });
    const provider = new Provider('http://127.0.0.1', {
      clients: [client(FIRST_PARTY, true), client(THIRD_PARTY, false)],
      extraClientMetadata: { properties: ['first_party', 'allowed_scopes'] },
      features: {
        devInteractions: { enabled: false },
        resourceIndicators: { enabled: true, defaultResource: async () => undefined, useGrantedResource: async () => true, getResourceServerInfo: deps.getResourceServerInfo as never },
      },
      findAccount: deps.findAccount,
      scopes: ['openid', 'email', 'offline_access'],
    });
    provider.registerGrantType(passwordGrant.type, passwordGrant.buildHandler(deps), passwordGrant.parameters, passwordGrant.repeatableParameters);
    provider.use(passwordGrant.answerUnauthorizedClient as (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>);
    server = createServer(provider.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const grant = (params: Record<string, string | string[]>, client = FIRST_PARTY) =>
    tokenRequest(url, { grant_type: 'password', username: 'someone', password: 'the password', ...params }, client);

  test('the right credentials: tokens for what the client may have, an ID token with amr pwd', async () => {
    verdict = { ok: true, accountId: 'account-1' };
    const answer = await grant({ scope: 'openid email offline_access' });
    expect(answer.status).toBe(200);
    expect(answer.body.refresh_token).toEqual(expect.any(String));
    expect(decodeJwt(answer.body.id_token!).payload).toMatchObject({ sub: 'account-1', amr: ['pwd'] });
    const forApi = await grant({ scope: 'read write', resource: 'https://api.example.test' });
    expect(forApi.body.scope).toBe('read');
    expect(decodeJwt(forApi.body.access_token!).payload.aud).toBe('https://api.example.test');
  });

  test('a locked account: 429 too_many_attempts with Retry-After', async () => {
    verdict = { ok: false, reason: 'locked', retryAfterSeconds: 12.2 };
    const answer = await grant({});
    expect(answer.status).toBe(429);
    expect(answer.headers.get('retry-after')).toBe('13');
    expect(answer.body.error).toBe('too_many_attempts');
  });

  test('wrong credentials: invalid_grant, nothing more', async () => {
    verdict = { ok: false, reason: 'invalid' };
    const answer = await grant({});
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: 'invalid_grant', error_description: 'grant request is invalid' });
  });

  test('a malformed request costs no password check', async () => {
    checks.length = 0;
    const malformed: Array<Record<string, string | string[]>> = [{ username: '' }, { password: '' }, { resource: ['https://a.example.test', 'https://b.example.test'] }, { resource: 'not a uri' }];
    for (const params of malformed) {
      const answer = await grant(params);
      expect(answer.status).toBe(400);
    }
    expect(checks).toEqual([]);
  });

  test('a third-party client: unauthorized_client, and no password check', async () => {
    checks.length = 0;
    const answer = await grant({}, THIRD_PARTY);
    expect(answer.body.error).toBe('unauthorized_client');
    expect(checks).toEqual([]);
  });
});
