// The passkey service (src/mfa/passkeys.ts) inside a real server (its
// database, token state, audit log), on PGlite with the SQL token state and on
// Postgres with Redis. The browser's side is a software authenticator
// (test/support/software-authenticator.ts) that can also do what a real one
// would not: answer a challenge twice, for another origin, without user
// verification, with an old counter. Headless Chromium with a virtual
// authenticator is test/e2e/passkeys.test.ts.
import { describe, test, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, postgresUp, redisUp, POSTGRES_URL } from '../support/services.ts';
import { softwareAuthenticator } from '../support/software-authenticator.ts';
import { createPasskeyService, relyingPartyIdOf, type PasskeyService, type SecondFactorContext } from '../../src/mfa/index.ts';

const context: SecondFactorContext = { ip: '192.0.2.20', via: 'login_page', clientId: 'photo-album' };

test('the RP ID is the issuer host name; an IP address has none', () => {
  expect(relyingPartyIdOf('https://login.example.com')).toBe('login.example.com');
  expect(relyingPartyIdOf('https://login.example.com:8443/tessera')).toBe('login.example.com');
  expect(relyingPartyIdOf('http://localhost:3000')).toBe('localhost');
  expect(relyingPartyIdOf('http://127.0.0.1:3000')).toBeUndefined();
  expect(relyingPartyIdOf('https://[2001:db8::1]')).toBeUndefined();
  expect(relyingPartyIdOf('https://[::1]:8443')).toBeUndefined();
});

function suite(name: string, options: { database: 'memory' | 'postgres'; redis: boolean }) {
  describe(name, () => {
    let server: TestServer;
    let passkeys: PasskeyService;
    let authenticator: ReturnType<typeof softwareAuthenticator>;
    let n = 0;
    const newUser = async () => {
      n += 1;
      const username = `pk-${n}-${randomBytes(3).toString('hex')}`;
      const password = `password-${randomBytes(6).toString('hex')}`;
      const { id } = await server.createUser({ username, password });
      return { id, username, password };
    };
    /** A person with one registered passkey. */
    const withPasskey = async (bend = {}) => {
      const user = await newUser();
      const { credential, response } = authenticator.create(await passkeys.registrationOptions(user), bend);
      const registered = await passkeys.register(user.id, response, 'Laptop');
      if (!registered.ok) throw new Error(`not registered: ${registered.reason}`);
      return { ...user, credential };
    };
    const auditOf = async (type: string, subject: string) => {
      await server.services.audit.flush();
      return (await server.db.knex('audit_events').where({ type, subject }).orderBy('id'))
        .map((row) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<string, unknown>);
    };

    beforeAll(async () => {
      server = await startTestServer({ database: options.database, redis: options.redis, issuerHost: 'localhost' });
      passkeys = server.services.passkeys;
      authenticator = softwareAuthenticator(server.issuer);
    });
    afterAll(async () => { await server?.stop(); });

    test('registration: options for a discoverable credential, attestation none; the passkey is listed and audited', async () => {
      const user = await newUser();
      const options = await passkeys.registrationOptions(user);
      expect(options).toMatchObject({
        rp: { id: 'localhost' },
        attestation: 'none',
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' },
        excludeCredentials: [],
      });
      expect((options.pubKeyCredParams as Array<{ alg: number }>).map((p) => p.alg).sort()).toEqual([-257, -8, -7].sort());
      // the user handle: 32 random bytes, not the username or the account id
      const handle = Buffer.from((options.user as { id: string }).id, 'base64url');
      expect(handle).toHaveLength(32);
      expect(handle.toString('utf8')).not.toContain(user.username);
      expect(handle.toString('utf8')).not.toContain(user.id);

      const { credential, response } = authenticator.create(options);
      await expect(passkeys.register(user.id, response, '  Work laptop  ')).resolves.toEqual({ ok: true, id: credential.id });
      const [listed] = await passkeys.list(user.id);
      expect(listed).toMatchObject({ id: credential.id, name: 'Work laptop', lastUsedAt: null, synced: false });
      expect(await auditOf('mfa.passkey_added', user.id)).toEqual([{ passkey_id: credential.id, synced: false }]);

      // a second one: the first is excluded, the same user handle is reused
      const again = await passkeys.registrationOptions(user);
      expect(again.excludeCredentials).toEqual([{ id: credential.id, type: 'public-key', transports: ['internal'] }]);
      expect((again.user as { id: string }).id).toBe((options.user as { id: string }).id);
    });

    test('a registration challenge answers once, for the account it was made for; asking again replaces it', async () => {
      const user = await newUser();
      const other = await newUser();
      const { response } = authenticator.create(await passkeys.registrationOptions(user));
      await expect(passkeys.register(other.id, response, 'Stolen')).resolves.toEqual({ ok: false, reason: 'challenge' });
      await expect(passkeys.register(user.id, response, 'Mine')).resolves.toMatchObject({ ok: true });
      await expect(passkeys.register(user.id, response, 'Mine')).resolves.toEqual({ ok: false, reason: 'challenge' });
      expect(await passkeys.list(other.id)).toEqual([]);

      // the newer options replace the older challenge; an answer to the older one spends the newer too
      const older = authenticator.create(await passkeys.registrationOptions(user));
      const newer = authenticator.create(await passkeys.registrationOptions(user));
      await expect(passkeys.register(user.id, older.response, 'Old')).resolves.toEqual({ ok: false, reason: 'challenge' });
      await expect(passkeys.register(user.id, newer.response, 'New')).resolves.toEqual({ ok: false, reason: 'challenge' });
      expect(await passkeys.list(user.id)).toHaveLength(1);
    });

    test('a registration from another origin or for another RP ID is refused', async () => {
      const user = await newUser();
      const phished = authenticator.create(await passkeys.registrationOptions(user), { origin: 'https://login.example.evil' });
      await expect(passkeys.register(user.id, phished.response, 'x')).resolves.toEqual({ ok: false, reason: 'not_verified' });
      const otherRp = authenticator.create(await passkeys.registrationOptions(user), { rpId: 'example.evil' });
      await expect(passkeys.register(user.id, otherRp.response, 'x')).resolves.toEqual({ ok: false, reason: 'not_verified' });
      expect(await passkeys.list(user.id)).toEqual([]);
    });

    test('without a password: discoverable options, the person must be verified; a good assertion signs in, counter and last use stored', async () => {
      const { id, credential } = await withPasskey();
      const options = await passkeys.authenticationOptions({ bindTo: 'interaction-a' });
      expect(options).toMatchObject({ rpId: 'localhost', userVerification: 'required', allowCredentials: [] });

      const notVerified = authenticator.get(credential, options, { uv: false, counter: 1 });
      await expect(passkeys.authenticate(notVerified, { bindTo: 'interaction-a', requireUserVerification: true, context }))
        .resolves.toEqual({ ok: false, reason: 'not_verified' });

      const next = await passkeys.authenticationOptions({ bindTo: 'interaction-a' });
      await expect(passkeys.authenticate(authenticator.get(credential, next), { bindTo: 'interaction-a', requireUserVerification: true, context }))
        .resolves.toEqual({ ok: true, accountId: id, method: 'hwk', userVerified: true });
      const [listed] = await passkeys.list(id);
      expect(listed.lastUsedAt).toBeInstanceOf(Date);
      const [row] = await server.db.knex('webauthn_credentials').where({ id: credential.id });
      expect(Number(row.sign_count)).toBe(credential.counter);
    });

    test('an authentication challenge answers once, for the interaction it was made for', async () => {
      const { credential } = await withPasskey();
      const options = await passkeys.authenticationOptions({ bindTo: 'interaction-b' });
      const assertion = authenticator.get(credential, options);
      await expect(passkeys.authenticate(assertion, { bindTo: 'interaction-c', requireUserVerification: true, context }))
        .resolves.toEqual({ ok: false, reason: 'challenge' });
      await expect(passkeys.authenticate(assertion, { bindTo: 'interaction-b', requireUserVerification: true, context }))
        .resolves.toMatchObject({ ok: true });
      await expect(passkeys.authenticate(assertion, { bindTo: 'interaction-b', requireUserVerification: true, context }))
        .resolves.toEqual({ ok: false, reason: 'challenge' });

      const fresh = await passkeys.authenticationOptions({ bindTo: 'interaction-b' });
      const good = authenticator.get(credential, fresh);
      const results = await Promise.all([1, 2, 3].map(() => passkeys.authenticate(good, { bindTo: 'interaction-b', requireUserVerification: true, context })));
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok)).toEqual([{ ok: false, reason: 'challenge' }, { ok: false, reason: 'challenge' }]);
    });

    test('second factor: the account\'s passkeys are offered; another account\'s passkey is refused', async () => {
      const alice = await withPasskey();
      const bob = await withPasskey();
      const options = await passkeys.authenticationOptions({ accountId: alice.id, bindTo: 'interaction-d' });
      expect(options).toMatchObject({ userVerification: 'preferred', allowCredentials: [{ id: alice.credential.id, type: 'public-key', transports: ['internal'] }] });
      const bobs = authenticator.get(bob.credential, options);
      await expect(passkeys.authenticate(bobs, { accountId: alice.id, bindTo: 'interaction-d', requireUserVerification: false, context }))
        .resolves.toEqual({ ok: false, reason: 'other_account' });
      expect(await auditOf('signin.second_factor_failed', alice.id)).toEqual([{ method: 'passkey', reason: 'other_account', via: 'login_page' }]);

      // a challenge made for the second factor does not serve a sign-in without a password, and the reverse
      const forAlice = await passkeys.authenticationOptions({ accountId: alice.id, bindTo: 'interaction-d' });
      await expect(passkeys.authenticate(authenticator.get(alice.credential, forAlice), { bindTo: 'interaction-d', requireUserVerification: true, context }))
        .resolves.toEqual({ ok: false, reason: 'challenge' });

      const good = await passkeys.authenticationOptions({ accountId: alice.id, bindTo: 'interaction-d' });
      await expect(passkeys.authenticate(authenticator.get(alice.credential, good, { uv: false }), { accountId: alice.id, bindTo: 'interaction-d', requireUserVerification: false, context }))
        .resolves.toEqual({ ok: true, accountId: alice.id, method: 'hwk', userVerified: false });
    });

    test('a passkey that verifies clears the run of failed passwords, which the right password of an account with a passkey does not', async () => {
      const user = await withPasskey();
      const { maxConsecutiveFailures } = server.config.lockout;
      // (the second run comes from another address: the per-address-and-username minute limit is not what this is about)
      const password = (value: string, ip = context.ip) => server.services.verifyCredentials(user.username, value, { ip });
      for (let i = 0; i < maxConsecutiveFailures - 1; i++) expect(await password('not the password')).toEqual({ ok: false, reason: 'invalid' });
      // the right password: a second factor follows, so the failures stay
      expect(await password(user.password)).toMatchObject({ ok: true, secondFactorFollows: true });
      const options = await passkeys.authenticationOptions({ accountId: user.id, bindTo: 'interaction-lockout' });
      await expect(passkeys.authenticate(authenticator.get(user.credential, options), { accountId: user.id, bindTo: 'interaction-lockout', requireUserVerification: false, context }))
        .resolves.toMatchObject({ ok: true, accountId: user.id });
      // the passkey proved the account: as many failures again do not lock it
      for (let i = 0; i < maxConsecutiveFailures - 1; i++) expect(await password('not the password', '198.51.100.7')).toEqual({ ok: false, reason: 'invalid' });
      expect(await password(user.password, '198.51.100.7')).toMatchObject({ ok: true });
    });

    test('a synced passkey is swk; its counter may stay 0', async () => {
      const { id, credential } = await withPasskey({ synced: true });
      expect((await passkeys.list(id))[0].synced).toBe(true);
      for (let i = 0; i < 2; i += 1) {
        const options = await passkeys.authenticationOptions({ bindTo: 'interaction-e' });
        await expect(passkeys.authenticate(authenticator.get(credential, options, { synced: true, counter: 0 }), { bindTo: 'interaction-e', requireUserVerification: true, context }))
          .resolves.toEqual({ ok: true, accountId: id, method: 'swk', userVerified: true });
      }
    });

    test('a counter that does not grow (a cloned authenticator) is refused', async () => {
      const { credential } = await withPasskey();
      const first = await passkeys.authenticationOptions({ bindTo: 'interaction-f' });
      await expect(passkeys.authenticate(authenticator.get(credential, first, { counter: 5 }), { bindTo: 'interaction-f', requireUserVerification: true, context }))
        .resolves.toMatchObject({ ok: true });
      for (const counter of [5, 4, 0]) {
        const options = await passkeys.authenticationOptions({ bindTo: 'interaction-f' });
        await expect(passkeys.authenticate(authenticator.get(credential, options, { counter }), { bindTo: 'interaction-f', requireUserVerification: true, context }))
          .resolves.toEqual({ ok: false, reason: 'not_verified' });
      }
    });

    test('a disabled account, a removed passkey, a wrong user handle, another origin, a forged signature: refused', async () => {
      const { id, credential } = await withPasskey();
      const attempt = async (bend = {}, mutate?: (r: Record<string, unknown>) => void) => {
        const options = await passkeys.authenticationOptions({ bindTo: 'interaction-g' });
        const assertion = authenticator.get(credential, options, bend);
        mutate?.(assertion);
        return passkeys.authenticate(assertion, { bindTo: 'interaction-g', requireUserVerification: true, context });
      };
      await expect(attempt({ userHandle: randomBytes(32).toString('base64url') })).resolves.toEqual({ ok: false, reason: 'user_handle' });
      await expect(attempt({ userHandle: null })).resolves.toEqual({ ok: false, reason: 'user_handle' });
      await expect(attempt({ origin: 'https://localhost.evil' })).resolves.toEqual({ ok: false, reason: 'not_verified' });
      await expect(attempt({ type: 'webauthn.create' })).resolves.toEqual({ ok: false, reason: 'not_verified' });
      await expect(attempt({}, (r) => {
        const response = r.response as Record<string, string>;
        const sig = Buffer.from(response.signature, 'base64url');
        sig[sig.length - 1] ^= 1;
        response.signature = sig.toString('base64url');
      })).resolves.toEqual({ ok: false, reason: 'not_verified' });
      await expect(attempt()).resolves.toMatchObject({ ok: true });

      await server.services.accounts.setDisabled(id, true);
      await expect(attempt()).resolves.toEqual({ ok: false, reason: 'disabled' });
      await server.services.accounts.setDisabled(id, false);
      await expect(attempt()).resolves.toMatchObject({ ok: true });

      await expect(passkeys.remove('someone-else', credential.id)).resolves.toBe(false);
      await expect(passkeys.remove(id, credential.id)).resolves.toBe(true);
      expect(await auditOf('mfa.passkey_removed', id)).toEqual([{ passkey_id: credential.id }]);
      await expect(passkeys.remove(id, credential.id)).resolves.toBe(false);
      await expect(attempt()).resolves.toEqual({ ok: false, reason: 'unknown_passkey' });
    });

    test('hostile input never throws: not an object, no challenge, oversized fields, garbage base64', async () => {
      const user = await newUser();
      const options = await passkeys.authenticationOptions({ bindTo: 'interaction-h' });
      const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: server.issuer })).toString('base64url');
      for (const response of [null, 'text', 42, [], {}, { response: {} }, { response: { clientDataJSON: '%%%' } },
        { id: 'x'.repeat(5000), rawId: 'x', type: 'public-key', response: { clientDataJSON, authenticatorData: '!!', signature: '??' } },
        { response: { clientDataJSON: 'A'.repeat(100_000) } }]) {
        await expect(passkeys.authenticate(response, { bindTo: 'interaction-h', requireUserVerification: true, context })).resolves.toMatchObject({ ok: false });
        await expect(passkeys.register(user.id, response, 'x')).resolves.toMatchObject({ ok: false });
      }
      await expect(passkeys.remove(user.id, 'y'.repeat(5000))).resolves.toBe(false);
    });

    if (!options.redis) {
      test('an anonymous page that asks for options again and again keeps one challenge in the token state', async () => {
        const count = async () => Number((await server.db.knex('token_state').where({ model: 'WebAuthnChallenge' }).count({ n: '*' }))[0].n);
        const before = await count();
        for (let i = 0; i < 5; i += 1) await passkeys.authenticationOptions({ bindTo: 'interaction-flood' });
        expect(await count()).toBe(before + 1);
      });
    }

    test('challenges are in the shared token state: another instance (service) on the same stores finishes what this one started', async () => {
      const twin = createPasskeyService({ knex: server.db.knex, issuer: server.issuer, challenges: server.tokenState.adapterFactory('WebAuthnChallenge'), audit: server.services.audit });
      const { id, credential } = await withPasskey();
      const options = await passkeys.authenticationOptions({ bindTo: 'interaction-i' });
      await expect(twin.authenticate(authenticator.get(credential, options), { bindTo: 'interaction-i', requireUserVerification: true, context }))
        .resolves.toMatchObject({ ok: true, accountId: id });
    });

    if (options.database === 'postgres') {
      test('a pg_dump of the schema holds the public key and credential id, and no byte of the private key', async () => {
        const { credential } = await withPasskey();
        const { stdout } = await promisify(execFile)('pg_dump', ['--dbname', POSTGRES_URL, '--schema', server.schema!, '--data-only', '--inserts'], { maxBuffer: 64 * 1024 * 1024 });
        expect(stdout).toContain(credential.id);
        for (const needle of [credential.pkcs8.toString('base64'), credential.pkcs8.toString('base64url'), credential.pkcs8.toString('hex'), credential.d.toString('base64url'), credential.d.toString('base64'), credential.d.toString('hex')]) {
          expect(stdout).not.toContain(needle);
        }
        const dump = Buffer.from(stdout);
        expect(dump.includes(credential.d)).toBe(false);
      });
    }
  });
}

suite('passkeys on PGlite, token state in SQL', { database: 'memory', redis: false });
describeWithService('Postgres and Redis', (await postgresUp()) && (await redisUp()))('on Postgres', () => {
  suite('passkeys on Postgres, token state in Redis', { database: 'postgres', redis: true });
});

test('an issuer at an IP address has no passkeys', async () => {
  const server = await startTestServer();
  try {
    expect(server.issuer).toMatch(/^http:\/\/127\.0\.0\.1:/);
    expect(server.services.passkeys.available).toBe(false);
    await expect(server.services.passkeys.registrationOptions({ id: 'a', username: 'b' })).rejects.toThrow(/unavailable/);
    await expect(server.services.passkeys.authenticationOptions({ bindTo: 'x' })).rejects.toThrow(/unavailable/);
  } finally {
    await server.stop();
  }
});
