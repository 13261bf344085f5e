// The TOTP and recovery-code service (src/mfa/service.ts), on embedded PGlite
// and on Postgres, inside a real server (its guard, audit log, repositories).
// Codes are computed by an independent implementation (otpauth). Where time
// must move, a second service on the same database takes a clock.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, postgresUp } from '../support/services.ts';
import { createMfaService, type MfaService, type SecondFactorContext } from '../../src/mfa/index.ts';

const PERIOD = 30;
const codeAt = (secret: string, seconds: number) => new OTPAuth.TOTP({
  secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: PERIOD,
}).generate({ timestamp: seconds * 1000 });

const context = (ip = '192.0.2.10'): SecondFactorContext => ({ ip, via: 'login_page', clientId: 'some-app' });
const LOCKOUT = { maxConsecutiveFailures: 3, baseDelaySeconds: 30, maxDelaySeconds: 600, perIpPerMinute: 1000, perIpAndUsernamePerMinute: 1000 };

function suite(name: string, database: 'memory' | 'postgres') {
  describe(name, () => {
    let server: TestServer;
    let mfa: MfaService;
    /** a service on the same database whose clock the test moves (seconds) */
    let clocked: MfaService;
    let now = 0;
    let n = 0;
    const newUser = async () => {
      n += 1;
      const username = `person-${n}-${randomBytes(3).toString('hex')}`;
      const password = `password-${randomBytes(6).toString('hex')}`;
      const { id } = await server.createUser({ username, password });
      return { id, username, password };
    };

    beforeAll(async () => {
      server = await startTestServer({ database, config: { lockout: LOCKOUT } });
      mfa = server.services.mfa;
      clocked = createMfaService({
        knex: server.db.knex, mfaKey: randomBytes(32), accounts: server.services.accounts,
        audit: server.services.audit, issuer: server.issuer, now: () => now * 1000,
      });
    });
    afterAll(async () => { await server?.stop(); });

    /** TOTP on with the clocked service at step `step`; returns the secret and the recovery codes. */
    async function enrolled(accountId: string, step: number) {
      now = step * PERIOD + 7;
      const { secret } = await clocked.startTotpEnrollment(accountId);
      const confirmed = await clocked.confirmTotpEnrollment(accountId, codeAt(secret, now), context());
      if (!confirmed.ok) throw new Error(`not confirmed: ${confirmed.reason}`);
      return { secret, recoveryCodes: confirmed.recoveryCodes };
    }

    const auditDetails = async (type: string, subject: string) => {
      await server.services.audit.flush();
      return (await server.db.knex('audit_events').where({ type, subject }).orderBy('id')).map((row) => ({ actor: row.actor, details: typeof row.details === 'string' ? JSON.parse(row.details) : row.details }));
    };

    test('enroll, then confirm with a code from an independent implementation; the same code is refused after', async () => {
      const person = await newUser();
      expect(await mfa.factorsOf(person.id)).toEqual({ totp: false, passkeys: 0, recoveryCodesLeft: 0 });
      expect(await mfa.pendingTotpEnrollment(person.id)).toBeUndefined();

      const enrollment = await mfa.startTotpEnrollment(person.id);
      expect(enrollment.secret).toMatch(/^[A-Z2-7]{32}$/);
      // the host name without its port (apps split the label at the first colon)
      const host = new URL(server.issuer).hostname;
      expect(enrollment.otpauthUri).toBe(`otpauth://totp/${encodeURIComponent(host)}:${person.username}?secret=${enrollment.secret}&issuer=${encodeURIComponent(host)}&algorithm=SHA1&digits=6&period=30`);
      // otpauth reads the URI back to the same generator
      const parsed = OTPAuth.URI.parse(enrollment.otpauthUri) as OTPAuth.TOTP;
      expect(parsed.secret.base32.replace(/=+$/, '')).toBe(enrollment.secret);
      expect(parsed.label).toBe(person.username);
      expect(parsed.issuer).toBe(host);
      expect(enrollment.qrSvg).toMatch(/^<svg [^>]*viewBox="0 0 \d+ \d+"[^]*<\/svg>\s*$/);
      expect(enrollment.qrSvg).not.toMatch(/style=|<script|href/i);
      // waiting: not on yet, shown again as it was
      expect((await mfa.factorsOf(person.id)).totp).toBe(false);
      expect((await mfa.pendingTotpEnrollment(person.id))?.secret).toBe(enrollment.secret);

      const wrong = await mfa.confirmTotpEnrollment(person.id, '000000' === codeAt(enrollment.secret, Date.now() / 1000) ? '111111' : '000000', context());
      expect(wrong).toEqual({ ok: false, reason: 'invalid' });

      const code = codeAt(enrollment.secret, Date.now() / 1000);
      const confirmed = await mfa.confirmTotpEnrollment(person.id, code, { ip: '192.0.2.1', via: 'account' });
      expect(confirmed.ok).toBe(true);
      const codes = (confirmed as { recoveryCodes: string[] }).recoveryCodes;
      expect(codes).toHaveLength(10);
      for (const c of codes) expect(c).toMatch(/^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);
      expect(new Set(codes).size).toBe(10);
      expect(await mfa.factorsOf(person.id)).toEqual({ totp: true, passkeys: 0, recoveryCodesLeft: 10 });
      expect(await mfa.pendingTotpEnrollment(person.id)).toBeUndefined();
      // the confirming code was spent: it does not sign in
      expect(await mfa.verifyCode(person.id, code, context())).toEqual({ ok: false, reason: 'invalid' });
      expect(await mfa.confirmTotpEnrollment(person.id, code, context())).toEqual({ ok: false, reason: 'no_enrollment' });

      const enabled = await auditDetails('mfa.totp_enabled', person.id);
      expect(enabled).toEqual([{ actor: person.id, details: { via: 'account', replaced: false } }]);
      const failed = await auditDetails('signin.second_factor_failed', person.id);
      // the wrong confirmation and the replayed code (identical events of one batch are one row with a count)
      expect(failed.reduce((sum, e) => sum + Number(e.details.count ?? 1), 0)).toBe(2);
      for (const event of failed) expect(event.details).toMatchObject({ via: 'login_page', method: 'totp', reason: 'invalid' });
      expect(JSON.stringify(failed)).not.toContain(code);
    });

    test('a code is accepted once; a code of an earlier step after a later one is refused; ±1 step accepted, ±2 refused', async () => {
      const person = await newUser();
      const step = 60_000_000;
      const { secret } = await enrolled(person.id, step);
      const at = (s: number) => s * PERIOD + 7;

      // the next step's code, once
      now = at(step + 1);
      expect(await clocked.verifyCode(person.id, codeAt(secret, at(step + 1)), context())).toEqual({ ok: true, method: 'totp' });
      expect(await clocked.verifyCode(person.id, codeAt(secret, at(step + 1)), context())).toEqual({ ok: false, reason: 'invalid' });
      // the step before the last used one is inside the skew window, and still refused
      expect(await clocked.verifyCode(person.id, codeAt(secret, at(step)), context())).toEqual({ ok: false, reason: 'invalid' });

      // one step behind the clock
      now = at(step + 4);
      expect(await clocked.verifyCode(person.id, codeAt(secret, at(step + 3)), context())).toEqual({ ok: true, method: 'totp' });
      // one step ahead of the clock
      expect(await clocked.verifyCode(person.id, codeAt(secret, at(step + 5)), context())).toEqual({ ok: true, method: 'totp' });
      // two steps either way (their codes are not, by chance, one of the window's)
      now = at(step + 10);
      const window = [9, 10, 11].map((s) => codeAt(secret, at(step + s)));
      for (const s of [8, 12]) {
        const code = codeAt(secret, at(step + s));
        if (!window.includes(code)) expect(await clocked.verifyCode(person.id, code, context())).toEqual({ ok: false, reason: 'invalid' });
      }
      // the current one still works, typed with a space in the middle
      const current = codeAt(secret, now);
      expect(await clocked.verifyCode(person.id, `${current.slice(0, 3)} ${current.slice(3)}`, context())).toEqual({ ok: true, method: 'totp' });
    });

    test('two requests racing with one code: exactly one is accepted', async () => {
      const person = await newUser();
      const step = 61_000_000;
      const { secret, recoveryCodes } = await enrolled(person.id, step);
      now = (step + 1) * PERIOD + 3;
      const code = codeAt(secret, now);
      const results = await Promise.all(Array.from({ length: 6 }, () => clocked.verifyCode(person.id, code, context())));
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      const recovery = await Promise.all(Array.from({ length: 6 }, () => clocked.verifyCode(person.id, recoveryCodes[0], context())));
      expect(recovery.filter((r) => r.ok)).toHaveLength(1);
    });

    test('a recovery code works once and only once, however it is typed', async () => {
      const person = await newUser();
      const { recoveryCodes } = await enrolled(person.id, 62_000_000);
      const [first, second] = recoveryCodes;
      expect(await clocked.verifyCode(person.id, first, context())).toEqual({ ok: true, method: 'recovery_code' });
      expect(await clocked.verifyCode(person.id, first, context())).toEqual({ ok: false, reason: 'invalid' });
      expect(await clocked.verifyCode(person.id, first.toUpperCase().replace(/-/g, ' '), context())).toEqual({ ok: false, reason: 'invalid' });
      // upper case, no dashes, 1 typed as l, 0 typed as o
      const typed = second.toUpperCase().replace(/-/g, '').replace(/1/g, 'l').replace(/0/g, 'o');
      expect(await clocked.verifyCode(person.id, typed, context())).toEqual({ ok: true, method: 'recovery_code' });
      expect((await clocked.factorsOf(person.id)).recoveryCodesLeft).toBe(8);
      // another account's code is not this one's
      const other = await newUser();
      const { recoveryCodes: others } = await enrolled(other.id, 62_000_010);
      expect(await clocked.verifyCode(person.id, others[0], context())).toEqual({ ok: false, reason: 'invalid' });
      // (identical request-path events of one batch are one row with a count)
      const used = await auditDetails('mfa.recovery_code_used', person.id);
      expect(used.reduce((sum, e) => sum + Number(e.details.count ?? 1), 0)).toBe(2);
      expect(JSON.stringify(used)).not.toContain(first);

      // new codes: the old ones stop working
      const fresh = await clocked.newRecoveryCodes(person.id);
      expect(fresh).toHaveLength(10);
      expect(await clocked.verifyCode(person.id, recoveryCodes[2], context())).toEqual({ ok: false, reason: 'invalid' });
      expect(await clocked.verifyCode(person.id, fresh[0], context())).toEqual({ ok: true, method: 'recovery_code' });
    });

    test('malformed codes are refused (and counted), never an error', async () => {
      const person = await newUser();
      await enrolled(person.id, 63_000_000);
      for (const bad of ['', '12345', '1234567', 'abcdef', 'x'.repeat(10_000), '１２３４５６', 'aaaa-bbbb-cccu', null, 42, {}]) {
        expect(await clocked.verifyCode(person.id, bad as string, context(`198.51.100.${n}`))).toEqual({ ok: false, reason: 'invalid' });
      }
      // an account that does not exist, or has nothing enrolled
      expect(await clocked.verifyCode('no-such-account', '123456', context())).toEqual({ ok: false, reason: 'invalid' });
      const bare = await newUser();
      expect(await clocked.verifyCode(bare.id, '123456', context())).toEqual({ ok: false, reason: 'invalid' });
      expect(await clocked.confirmTotpEnrollment(bare.id, '123456', context())).toEqual({ ok: false, reason: 'no_enrollment' });
    });

    test('turning TOTP off needs a right code (TOTP or recovery code), and takes the recovery codes with it', async () => {
      const person = await newUser();
      const step = 64_000_000;
      const { secret, recoveryCodes } = await enrolled(person.id, step);
      now = (step + 1) * PERIOD + 1;
      const current = codeAt(secret, now);
      const wrong = current === '000000' ? '000001' : '000000';
      expect(await clocked.disableTotp(person.id, wrong, context())).toEqual({ ok: false, reason: 'invalid' });
      expect(await clocked.disableTotp(person.id, 'aaaa-bbbb-cccc', context())).toEqual({ ok: false, reason: 'invalid' });
      expect((await clocked.factorsOf(person.id)).totp).toBe(true);
      expect(await clocked.disableTotp(person.id, current, { ip: '192.0.2.1', via: 'account' })).toEqual({ ok: true, method: 'totp' });
      expect(await clocked.factorsOf(person.id)).toEqual({ totp: false, passkeys: 0, recoveryCodesLeft: 0 });
      expect(await clocked.verifyCode(person.id, recoveryCodes[0], context())).toEqual({ ok: false, reason: 'invalid' });
      expect(await auditDetails('mfa.totp_disabled', person.id)).toEqual([{ actor: person.id, details: { via: 'account', method: 'totp' } }]);

      // with a recovery code
      const again = await enrolled(person.id, step + 10);
      expect(await clocked.disableTotp(person.id, again.recoveryCodes[3], context())).toEqual({ ok: true, method: 'recovery_code' });
      expect((await clocked.factorsOf(person.id)).totp).toBe(false);
    });

    test('re-enrollment keeps the confirmed secret working until the new one is confirmed', async () => {
      const person = await newUser();
      const step = 65_000_000;
      const old = await enrolled(person.id, step);
      const at = (s: number) => s * PERIOD + 7;

      now = at(step + 1);
      const started = await clocked.startTotpEnrollment(person.id);
      expect(started.secret).not.toBe(old.secret);
      expect((await clocked.factorsOf(person.id)).totp).toBe(true);
      expect(await clocked.verifyCode(person.id, codeAt(old.secret, now), context())).toEqual({ ok: true, method: 'totp' });
      // the waiting secret signs nobody in
      now = at(step + 2);
      expect(await clocked.verifyCode(person.id, codeAt(started.secret, now), context())).toEqual({ ok: false, reason: 'invalid' });
      // starting again replaces the waiting secret: a code of the replaced one confirms nothing
      const restarted = await clocked.startTotpEnrollment(person.id);
      expect((await clocked.pendingTotpEnrollment(person.id))?.secret).toBe(restarted.secret);
      expect(await clocked.confirmTotpEnrollment(person.id, codeAt(started.secret, now), context())).toEqual({ ok: false, reason: 'invalid' });
      // the old recovery codes still work while the new secret waits
      expect(await clocked.verifyCode(person.id, old.recoveryCodes[0], context())).toEqual({ ok: true, method: 'recovery_code' });

      now = at(step + 3);
      const confirmed = await clocked.confirmTotpEnrollment(person.id, codeAt(restarted.secret, now), context());
      expect(confirmed.ok).toBe(true);
      now = at(step + 4);
      expect(await clocked.verifyCode(person.id, codeAt(old.secret, now), context())).toEqual({ ok: false, reason: 'invalid' });
      expect(await clocked.verifyCode(person.id, old.recoveryCodes[1], context())).toEqual({ ok: false, reason: 'invalid' });
      expect(await clocked.verifyCode(person.id, codeAt(restarted.secret, now), context())).toEqual({ ok: true, method: 'totp' });
      expect(await auditDetails('mfa.totp_enabled', person.id)).toEqual([
        { actor: person.id, details: { via: 'login_page', replaced: false } },
        { actor: person.id, details: { via: 'login_page', replaced: true } },
      ]);
    });

    test('wrong codes lock the account for passwords too (the same guard)', async () => {
      const person = await newUser();
      const { secret } = await mfa.startTotpEnrollment(person.id);
      expect((await mfa.confirmTotpEnrollment(person.id, codeAt(secret, Date.now() / 1000), context())).ok).toBe(true);
      const ip = '203.0.113.7';
      expect((await server.services.verifyCredentials(person.username, person.password, { ip })).ok).toBe(true);

      const live = [-30, 0, 30].map((o) => codeAt(secret, Date.now() / 1000 + o));
      const wrong = ['000000', '111111', '222222', '333333', '444444'].filter((c) => !live.includes(c));
      for (let i = 0; i < LOCKOUT.maxConsecutiveFailures; i += 1) {
        expect(await mfa.verifyCode(person.id, wrong[i], { ip, via: 'login_page' })).toEqual({ ok: false, reason: 'invalid' });
      }
      // the right password is refused now, and so is a right code
      const password = await server.services.verifyCredentials(person.username, person.password, { ip });
      expect(password).toMatchObject({ ok: false, reason: 'locked' });
      const code = await mfa.verifyCode(person.id, codeAt(secret, Date.now() / 1000), { ip, via: 'login_page' });
      expect(code).toMatchObject({ ok: false, reason: 'locked' });
      expect((code as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(0);
      const locked = await auditDetails('account.locked', person.id);
      expect(locked).toHaveLength(1);
      expect(locked[0].details).toMatchObject({ via: 'login_page' });
    });

    test('a right code clears the failures a wrong password left', async () => {
      const person = await newUser();
      const { secret } = await mfa.startTotpEnrollment(person.id);
      expect((await mfa.confirmTotpEnrollment(person.id, codeAt(secret, Date.now() / 1000), context())).ok).toBe(true);
      const ip = '203.0.113.8';
      for (let i = 0; i < LOCKOUT.maxConsecutiveFailures - 1; i += 1) {
        expect((await server.services.verifyCredentials(person.username, 'wrong password', { ip })).ok).toBe(false);
      }
      // a recovery code (no dependence on the clock): right, and the count starts again
      const fresh = await mfa.newRecoveryCodes(person.id);
      expect(await mfa.verifyCode(person.id, fresh[0], { ip, via: 'login_page' })).toEqual({ ok: true, method: 'recovery_code' });
      for (let i = 0; i < LOCKOUT.maxConsecutiveFailures - 1; i += 1) {
        expect((await server.services.verifyCredentials(person.username, 'wrong password', { ip })).ok).toBe(false);
      }
      expect((await server.services.verifyCredentials(person.username, person.password, { ip })).ok).toBe(true);
    });

    test('the first code of a secret just made does not clear the failures of wrong passwords', async () => {
      const person = await newUser();
      const ip = '203.0.113.9';
      for (let i = 0; i < LOCKOUT.maxConsecutiveFailures - 1; i += 1) {
        expect((await server.services.verifyCredentials(person.username, 'wrong password', { ip })).ok).toBe(false);
      }
      const { secret } = await mfa.startTotpEnrollment(person.id);
      expect((await mfa.confirmTotpEnrollment(person.id, codeAt(secret, Date.now() / 1000), { ip, via: 'account' })).ok).toBe(true);
      // one more wrong password reaches the lock: the enrollment wiped nothing
      expect((await server.services.verifyCredentials(person.username, 'wrong password', { ip })).ok).toBe(false);
      expect(await server.services.verifyCredentials(person.username, person.password, { ip })).toMatchObject({ ok: false, reason: 'locked' });
    });

    test('the database holds neither the secret nor the recovery codes', async () => {
      const person = await newUser();
      const { secret, recoveryCodes } = await enrolled(person.id, 66_000_000);
      const pending = await clocked.startTotpEnrollment(person.id);
      const rows = JSON.stringify([
        await server.db.knex('mfa_totp').where({ account_id: person.id }),
        await server.db.knex('mfa_recovery_codes').where({ account_id: person.id }),
      ]);
      for (const value of [secret, pending.secret, ...recoveryCodes, ...recoveryCodes.map((c) => c.replace(/-/g, '').toUpperCase())]) {
        expect(rows.toUpperCase()).not.toContain(value.toUpperCase());
      }
      // nor its bytes in hex or base64
      const { base32Decode } = await import('../../src/mfa/index.ts');
      expect(rows).not.toContain(base32Decode(secret).toString('hex'));
      expect(rows).not.toContain(base32Decode(secret).toString('base64').slice(0, 20));
    });

    test('reset removes TOTP, recovery codes and passkeys in one go, audited with the admin as actor', async () => {
      const person = await newUser();
      await enrolled(person.id, 67_000_000);
      await clocked.startTotpEnrollment(person.id);
      await server.db.knex('webauthn_credentials').insert({ id: `cred-${person.id}`, account_id: person.id, name: 'Laptop', public_key: 'AAAA', user_handle: randomBytes(32).toString('base64url') });
      expect(await clocked.factorsOf(person.id)).toEqual({ totp: true, passkeys: 1, recoveryCodesLeft: 10 });
      expect(await clocked.reset(person.id, 'admin-client')).toEqual({ totp: true, passkeys: 1, recoveryCodesLeft: 10 });
      expect(await clocked.factorsOf(person.id)).toEqual({ totp: false, passkeys: 0, recoveryCodesLeft: 0 });
      expect(await clocked.pendingTotpEnrollment(person.id)).toBeUndefined();
      expect(await auditDetails('mfa.reset', person.id)).toEqual([{ actor: 'admin-client', details: { totp: true, passkeys: 1, recovery_codes: 10 } }]);
    });
  });
}

suite('MFA service on embedded PGlite', 'memory');
describeWithService('Postgres', await postgresUp())('on Postgres', () => suite('MFA service on Postgres', 'postgres'));
