// Issue 12, "done means" 4: the password grant with `otp`, inside Tessera —
// the real MFA service (TOTP enrolled as /account does, codes computed by an
// independent TOTP implementation, otpauth), the real lockout counters, the
// real audit log. The handler's decisions alone, with every client setting,
// are test/grants/password-handler.test.ts.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import { startTestServer, type TestServer } from '../support/server.ts';
import { type ClientCredentials, tokenRequest, type TokenResponse } from '../support/oauth.ts';
import { decodeJwt } from './helpers.ts';

const PASSWORD = 'correct horse battery staple';
const WRONG_PASSWORD = 'not the password at all';
const PERIOD_MS = 30_000;

// 5 consecutive failures lock an account, long enough for the test to see it;
// the per-IP limits are out of the way
const LOCKOUT = { maxConsecutiveFailures: 5, baseDelaySeconds: 120, maxDelaySeconds: 600, perIpPerMinute: 100000, perIpAndUsernamePerMinute: 100000 };

const REQUIRED = { error: 'invalid_grant', error_description: 'a one-time code (otp) is required for this account' };
const NOT_VALID = { error: 'invalid_grant', error_description: 'the one-time code is not valid' };
const PASSKEY_ONLY = { error: 'invalid_grant', error_description: 'this account signs in with a passkey; use the authorization code flow' };
const WRONG_CREDENTIALS = { error: 'invalid_grant', error_description: 'grant request is invalid' };

interface Person { id: string; username: string; totp: OTPAuth.TOTP; recoveryCodes: string[] }

describe('grant_type=password with otp', () => {
  let server: TestServer;
  let app: ClientCredentials;
  const logLines: string[] = [];
  /** every code sent in this file: none may reach a log line or the audit log */
  const sentCodes = new Set<string>();

  beforeAll(async () => {
    server = await startTestServer({ config: { lockout: LOCKOUT }, logLevel: 'debug', logDestination: { write: (line) => { logLines.push(line); } } });
    app = await server.createClient({ name: 'our app', firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid', 'profile', 'offline_access'] });
  });
  afterAll(async () => { await server?.stop(); });

  /** An account with TOTP on, confirmed by the code of the current step (so the next step's code is still unused). */
  async function enrolled(username: string): Promise<Person> {
    const { id } = await server.createUser({ username, password: PASSWORD });
    const enrollment = await server.services.mfa.startTotpEnrollment(id);
    const totp = OTPAuth.URI.parse(enrollment.otpauthUri) as OTPAuth.TOTP;
    const confirmed = await server.services.mfa.confirmTotpEnrollment(id, totp.generate(), { ip: '127.0.0.1', via: 'account' });
    if (!confirmed.ok) throw new Error(`the first code was refused: ${confirmed.reason}`);
    return { id, username, totp, recoveryCodes: confirmed.recoveryCodes };
  }

  /** The code of the next time step: accepted (±1 step of skew) and not used yet. */
  const nextCode = (person: Person) => person.totp.generate({ timestamp: Date.now() + PERIOD_MS });

  /** A 6-digit code that no step from two back to two ahead would produce. */
  function wrongCode(person: Person): string {
    const near = new Set([-2, -1, 0, 1, 2].map((step) => person.totp.generate({ timestamp: Date.now() + step * PERIOD_MS })));
    for (;;) {
      const candidate = String(randomBytes(4).readUInt32BE() % 1_000_000).padStart(6, '0');
      if (!near.has(candidate)) return candidate;
    }
  }

  function grant(username: string, params: { password?: string; otp?: string; scope?: string } = {}): Promise<TokenResponse> {
    if (params.otp) sentCodes.add(params.otp);
    return tokenRequest(server.url, {
      grant_type: 'password', username, password: params.password ?? PASSWORD, scope: params.scope ?? 'openid offline_access',
      ...(params.otp !== undefined ? { otp: params.otp } : {}),
    }, app);
  }

  test('the right code: tokens; the ID token (and a refreshed one) says amr pwd otp mfa, acr mfa', async () => {
    const tess = await enrolled('tess');
    const answer = await grant('tess', { otp: nextCode(tess) });
    expect(answer.status).toBe(200);
    expect(answer.body.access_token).toEqual(expect.any(String));
    expect(decodeJwt(answer.body.id_token!).payload).toMatchObject({ sub: tess.id, amr: ['pwd', 'otp', 'mfa'], acr: 'mfa' });

    const refreshed = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: answer.body.refresh_token! }, app);
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(refreshed.body.id_token!).payload).toMatchObject({ sub: tess.id, amr: ['pwd', 'otp', 'mfa'], acr: 'mfa' });
  });

  test('no code: refused, the code is required; a wrong code and the same right code twice: refused, not valid', async () => {
    const uma = await enrolled('uma');
    expect((await grant('uma')).body).toEqual(REQUIRED);
    expect((await grant('uma', { otp: '' })).body).toEqual(REQUIRED);

    const wrong = await grant('uma', { otp: wrongCode(uma) });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual(NOT_VALID);

    const code = nextCode(uma);
    expect((await grant('uma', { otp: code })).status).toBe(200);
    const replayed = await grant('uma', { otp: code });
    expect(replayed.status).toBe(400);
    expect(replayed.body).toEqual(NOT_VALID);
  });

  test('a recovery code as otp works once', async () => {
    const vic = await enrolled('vic');
    const [code] = vic.recoveryCodes;
    const first = await grant('vic', { otp: code });
    expect(first.status).toBe(200);
    expect(decodeJwt(first.body.id_token!).payload).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: 'mfa' });
    expect((await grant('vic', { otp: code })).body).toEqual(NOT_VALID);
    expect(await server.services.mfa.factorsOf(vic.id)).toMatchObject({ recoveryCodesLeft: 9 });
  });

  test('5 wrong codes lock the account: then the right password and the right code get the lockout answer', async () => {
    const wes = await enrolled('wes');
    const answers: TokenResponse[] = [];
    for (let i = 0; i < LOCKOUT.maxConsecutiveFailures; i++) answers.push(await grant('wes', { otp: wrongCode(wes) }));
    // each was refused as not valid; the one that locked the account may say so already
    for (const answer of answers.slice(0, -1)) expect(answer.body).toEqual(NOT_VALID);
    const last = answers.at(-1)!;
    expect(last.status === 429 ? last.body.error : last.body).toEqual(last.status === 429 ? 'too_many_attempts' : NOT_VALID);

    const locked = await grant('wes', { otp: nextCode(wes) });
    expect(locked.status).toBe(429);
    expect(locked.body.error).toBe('too_many_attempts');
    expect(locked.body.access_token).toBeUndefined();
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // the same answer as an account locked by wrong passwords
    expect((await grant('wes', { password: WRONG_PASSWORD })).status).toBe(429);
  });

  test('wrong codes are not forgotten when the password is right again: the password alone cannot reset the count', async () => {
    const xia = await enrolled('xia');
    // 4 wrong codes, then a request without a code (the password right): still 4 failures
    for (let i = 0; i < LOCKOUT.maxConsecutiveFailures - 1; i++) expect((await grant('xia', { otp: wrongCode(xia) })).body).toEqual(NOT_VALID);
    expect((await grant('xia')).body).toEqual(REQUIRED);
    expect((await grant('xia', { otp: wrongCode(xia) })).body).toEqual(NOT_VALID);
    expect((await grant('xia', { otp: nextCode(xia) })).status).toBe(429);
  });

  test('a wrong password: the one answer whether or not the account is enrolled, with or without otp', async () => {
    const yan = await enrolled('yan');
    await server.createUser({ username: 'zoe', password: PASSWORD });
    const answers = [
      await grant('yan', { password: WRONG_PASSWORD }),
      await grant('yan', { password: WRONG_PASSWORD, otp: nextCode(yan) }),
      await grant('zoe', { password: WRONG_PASSWORD }),
      await grant('zoe', { password: WRONG_PASSWORD, otp: '123456' }),
      await grant('nobody-here', { password: WRONG_PASSWORD, otp: '123456' }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual(WRONG_CREDENTIALS);
    }
  });

  test('no second factor: an otp sent is ignored, amr pwd and acr pwd', async () => {
    await server.createUser({ username: 'abe', password: PASSWORD });
    for (const otp of [undefined, '123456']) {
      const answer = await grant('abe', { otp });
      expect(answer.status).toBe(200);
      expect(decodeJwt(answer.body.id_token!).payload).toMatchObject({ amr: ['pwd'], acr: 'pwd' });
    }
  });

  test('passkeys and no TOTP: refused, pointing to the authorization code flow', async () => {
    const { id } = await server.createUser({ username: 'bea', password: PASSWORD });
    // a passkey row as the passkey service stores one (public material only)
    await server.db.knex('webauthn_credentials').insert({ id: randomBytes(16).toString('base64url'), account_id: id, name: 'laptop', public_key: randomBytes(65).toString('base64url'), user_handle: randomBytes(32).toString('base64url') });
    const answer = await grant('bea', { otp: '123456' });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual(PASSKEY_ONLY);
  });

  test('a malformed otp: invalid_request, before the password is even looked at', async () => {
    await enrolled('cyd');
    for (const otp of ['9'.repeat(65), 'DROP TABLE;']) {
      const answer = await grant('cyd', { otp, password: WRONG_PASSWORD });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_request');
    }
  });

  test('no code sent reached a log line or the audit log', async () => {
    await server.services.audit.flush();
    const audit = JSON.stringify(await server.db.knex('audit_events').select('*'));
    expect(audit).toContain('password_grant'); // the grant's sign-ins are in it
    const log = logLines.join('');
    expect(log.length).toBeGreaterThan(1000);
    // as a value of its own: a bare 6-digit code would match any timestamp or port by chance
    const asValue = (code: string) => [`"${code}"`, `=${code}`, `: ${code}`];
    const leaked = [...sentCodes].filter((code) => asValue(code).some((form) => audit.includes(form) || log.includes(form)));
    expect(leaked).toEqual([]);
  });
});

describe('grant_type=password with otp: after a lock by wrong codes', () => {
  // short delays: the lock is waited out
  const SHORT = { ...LOCKOUT, maxConsecutiveFailures: 3, baseDelaySeconds: 1, maxDelaySeconds: 2 };
  let server: TestServer;
  let app: ClientCredentials;
  beforeAll(async () => {
    server = await startTestServer({ config: { lockout: SHORT } });
    app = await server.createClient({ name: 'our app', firstParty: true, grantTypes: ['password'], scopes: ['openid'] });
  });
  afterAll(async () => { await server?.stop(); });

  test('once the lock has passed, the right password and code sign in (the password step does not keep the lock it took), and the count starts again', async () => {
    const { id } = await server.createUser({ username: 'dina', password: PASSWORD });
    const enrollment = await server.services.mfa.startTotpEnrollment(id);
    const totp = OTPAuth.URI.parse(enrollment.otpauthUri) as OTPAuth.TOTP;
    expect(await server.services.mfa.confirmTotpEnrollment(id, totp.generate(), { ip: '127.0.0.1', via: 'account' })).toMatchObject({ ok: true });
    const grant = (otp: string) => tokenRequest(server.url, { grant_type: 'password', username: 'dina', password: PASSWORD, scope: 'openid', otp }, app);

    for (let i = 0; i < SHORT.maxConsecutiveFailures; i++) await grant('000000' === totp.generate() ? '111111' : '000000');
    const locked = await grant(totp.generate({ timestamp: Date.now() + PERIOD_MS }));
    expect(locked.status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, Number(locked.headers.get('retry-after')) * 1000 + 300));

    const signedIn = await grant(totp.generate({ timestamp: Date.now() + PERIOD_MS }));
    expect(signedIn.status).toBe(200);
    expect(decodeJwt(signedIn.body.id_token!).payload).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: 'mfa' });
    // the success cleared the run: fewer wrong codes than the threshold lock nothing
    for (let i = 0; i < SHORT.maxConsecutiveFailures - 1; i++) expect((await grant('000000' === totp.generate() ? '111111' : '000000')).status).toBe(400);
  });
});
