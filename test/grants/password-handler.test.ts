// The password grant's handler on its own: a bare oidc-provider with one
// static client and the grant registered from `passwordGrant` (parameters +
// buildHandler(deps)), its dependencies given by the test. What the handler
// decides is checked here; the grant inside Tessera (accounts, lockout, stores)
// is test/grants/password.test.ts.
import { describe, test, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { passwordGrant, type PasswordGrantDependencies } from '../../src/grants/index.ts';
import type { CredentialCheck } from '../../src/accounts/service.ts';
import { hasSecondFactor, type CodeCheck, type SecondFactorContext, type SecondFactors } from '../../src/mfa/index.ts';
import { decodeJwt } from './helpers.ts';
import { tokenRequest } from '../support/oauth.ts';
import { answerUnauthorizedClient } from '../../src/provider/unauthorized-client.ts';

const FIRST_PARTY = { clientId: 'first-party', clientSecret: 'first-party-secret-first-party-secret' };
const THIRD_PARTY = { clientId: 'third-party', clientSecret: 'third-party-secret-third-party-secret' };
const REQUIRES_MFA = { clientId: 'requires-mfa', clientSecret: 'requires-mfa-secret-requires-mfa-secret' };
const NO_FACTORS: SecondFactors = { totp: false, passkeys: 0, recoveryCodesLeft: 0 };

describe('passwordGrant.buildHandler', () => {
  let server: Server;
  let url: string;
  const checks: Array<{ username: string; password: string }> = [];
  // the password's verdict; whether a second factor follows comes from `factors`, as in the real verifier
  let verdict: { ok: true; accountId: string } | Exclude<CredentialCheck, { ok: true }> = { ok: true, accountId: 'account-1' };
  // the MFA service as the handler sees it: what the account has, and the verdict on a code
  let factors: SecondFactors = NO_FACTORS;
  let codeVerdict: CodeCheck = { ok: true, method: 'totp' };
  const codeChecks: Array<{ accountId: string; code: string; context: SecondFactorContext }> = [];

  beforeAll(async () => {
    const deps: PasswordGrantDependencies = {
      async verifyCredentials(username, password) {
        checks.push({ username, password });
        // as the real verifier does: it asks the MFA service whether any second factor follows
        return verdict.ok ? { ...verdict, secondFactorFollows: hasSecondFactor(factors) } : verdict;
      },
      mfa: {
        factorsOf: async () => factors,
        async verifyCode(accountId, code, context) {
          codeChecks.push({ accountId, code, context });
          return codeVerdict;
        },
      },
      findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, email: 'someone@example.test' }) }),
      getResourceServerInfo: async () => ({ scope: 'read', audience: 'https://api.example.test', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
    };
    const client = (c: typeof FIRST_PARTY, firstParty: boolean, requireMfa?: boolean) => ({
      client_id: c.clientId, client_secret: c.clientSecret, grant_types: ['password', 'refresh_token'], response_types: [], redirect_uris: [],
      first_party: firstParty, allowed_scopes: ['openid', 'email', 'offline_access', 'read'], scope: 'openid email offline_access',
      ...(requireMfa === undefined ? {} : { require_mfa: requireMfa }),
    });
    const provider = new Provider('http://127.0.0.1', {
      clients: [client(FIRST_PARTY, true), client(THIRD_PARTY, false), client(REQUIRES_MFA, true, true)],
      extraClientMetadata: { properties: ['first_party', 'allowed_scopes', 'require_mfa'] },
      features: {
        devInteractions: { enabled: false },
        resourceIndicators: { enabled: true, defaultResource: async () => undefined, useGrantedResource: async () => true, getResourceServerInfo: deps.getResourceServerInfo as never },
      },
      findAccount: deps.findAccount,
      scopes: ['openid', 'email', 'offline_access'],
      // as Tessera's provider (src/provider): the two levels, acr and amr released with `openid`
      acrValues: ['pwd', 'mfa'],
      claims: { openid: ['sub', 'acr', 'amr'] },
    });
    provider.registerGrantType(passwordGrant.type, passwordGrant.buildHandler(deps), passwordGrant.parameters, passwordGrant.repeatableParameters);
    provider.use(answerUnauthorizedClient as (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>);
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
    expect(decodeJwt(answer.body.id_token!).payload).toMatchObject({ sub: 'account-1', amr: ['pwd'], acr: 'pwd' });
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

  describe('the second factor (otp)', () => {
    const TOTP_ON: SecondFactors = { totp: true, passkeys: 0, recoveryCodesLeft: 10 };
    const refused = (description: string) => ({ error: 'invalid_grant', error_description: description });

    beforeEach(() => {
      verdict = { ok: true, accountId: 'account-1' };
      factors = NO_FACTORS;
      codeVerdict = { ok: true, method: 'totp' };
      codeChecks.length = 0;
      checks.length = 0;
    });

    test('TOTP on and the right code: tokens; the ID token and the refreshed one say pwd + otp, mfa', async () => {
      factors = TOTP_ON;
      const answer = await grant({ scope: 'openid offline_access', otp: '123456' });
      expect(answer.status).toBe(200);
      expect(codeChecks).toEqual([{ accountId: 'account-1', code: '123456', context: { ip: expect.any(String), clientId: FIRST_PARTY.clientId, via: 'password_grant' } }]);
      expect(decodeJwt(answer.body.id_token!).payload).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: 'mfa' });
      const refreshed = await tokenRequest(url, { grant_type: 'refresh_token', refresh_token: answer.body.refresh_token! }, FIRST_PARTY);
      expect(refreshed.status).toBe(200);
      expect(decodeJwt(refreshed.body.id_token!).payload).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: 'mfa' });
    });

    test('TOTP on and no code (or an empty one): invalid_grant, the code is required; nothing is checked', async () => {
      factors = TOTP_ON;
      for (const params of [{}, { otp: '' }, { otp: '   ' }] as Array<Record<string, string>>) {
        const answer = await grant({ scope: 'openid', ...params });
        expect(answer.status).toBe(400);
        expect(answer.body).toEqual(refused('a one-time code (otp) is required for this account'));
      }
      expect(codeChecks).toEqual([]);
    });

    test('TOTP on and a wrong or replayed code: invalid_grant, the code is not valid (and not echoed)', async () => {
      factors = TOTP_ON;
      codeVerdict = { ok: false, reason: 'invalid' };
      const answer = await grant({ scope: 'openid', otp: '654321' });
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual(refused('the one-time code is not valid'));
      expect(answer.text).not.toContain('654321');
    });

    test('a code check that finds the account locked: the lockout answer of a password check', async () => {
      factors = TOTP_ON;
      codeVerdict = { ok: false, reason: 'locked', retryAfterSeconds: 4.5 };
      const answer = await grant({ otp: '123456' });
      expect(answer.status).toBe(429);
      expect(answer.headers.get('retry-after')).toBe('5');
      expect(answer.body).toEqual({ error: 'too_many_attempts', error_description: 'too many failed sign-in attempts; try again in 5 seconds' });
    });

    test('a wrong password: the one answer, whatever the account has enrolled and whatever otp says', async () => {
      verdict = { ok: false, reason: 'invalid' };
      for (const enrolled of [TOTP_ON, NO_FACTORS, { totp: false, passkeys: 2, recoveryCodesLeft: 0 }]) {
        factors = enrolled;
        for (const params of [{}, { otp: '123456' }] as Array<Record<string, string>>) {
          expect((await grant(params)).body).toEqual({ error: 'invalid_grant', error_description: 'grant request is invalid' });
        }
      }
      expect(codeChecks).toEqual([]);
    });

    test('passkeys and no TOTP: refused, with the way that works', async () => {
      factors = { totp: false, passkeys: 1, recoveryCodesLeft: 0 };
      for (const params of [{}, { otp: '123456' }] as Array<Record<string, string>>) {
        const answer = await grant(params);
        expect(answer.status).toBe(400);
        expect(answer.body).toEqual(refused('this account signs in with a passkey; use the authorization code flow'));
      }
      expect(codeChecks).toEqual([]);
    });

    test('a client with require_mfa and a person without a second factor: refused, with where to set one up', async () => {
      const answer = await grant({ scope: 'openid' }, REQUIRES_MFA);
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual(refused('multi-factor authentication is required; set up two-step verification on /account'));
      // with TOTP and its code, the same client gets tokens
      factors = TOTP_ON;
      const enrolled = await grant({ scope: 'openid', otp: '123456' }, REQUIRES_MFA);
      expect(enrolled.status).toBe(200);
      expect(decodeJwt(enrolled.body.id_token!).payload).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: 'mfa' });
    });

    test('no TOTP: an otp sent is ignored (refusing it would reveal who is not enrolled); amr pwd', async () => {
      const answer = await grant({ scope: 'openid', otp: '123456' });
      expect(answer.status).toBe(200);
      expect(codeChecks).toEqual([]);
      expect(decodeJwt(answer.body.id_token!).payload).toMatchObject({ amr: ['pwd'], acr: 'pwd' });
    });

    test('a malformed or oversized otp: invalid_request before any password or code check', async () => {
      factors = TOTP_ON;
      for (const otp of ['1'.repeat(65), '12345<script>', '12\u00003456', 'ünïcode1', ['123456', '654321']]) {
        const answer = await grant({ otp });
        expect(answer.status).toBe(400);
        expect(answer.body.error).toBe('invalid_request');
        expect(answer.text).not.toContain('12345<script>');
      }
      expect(checks).toEqual([]);
      expect(codeChecks).toEqual([]);
    });
  });
});
