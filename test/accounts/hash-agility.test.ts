import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import {
  createAccountRepository, createCredentialVerifier, createPasswordHasher, HashingOverloadedError,
  type AccountRepository, type AttemptGuard, type PasswordHasher,
} from '../../src/accounts/index.ts';
import { createDatabase, migrateToLatest, type Database } from '../../src/db/index.ts';
import { FAST_HASHING, startTestServer, type TestServer } from '../support/server.ts';
import { GENEROUS_LOCKOUT } from '../grants/helpers.ts';
import { type ClientCredentials, passwordGrant } from '../support/oauth.ts';

const PASSWORD = 'correct horse battery staple';

// passlib's bcrypt writes $2b$ (cost 12 by default; 10 here to keep the test
// quick); $2y$ comes from PHP and $2a$ from older libraries. The three differ
// only in bugs of historic implementations, so one digest serves all three.
const passlibBcrypt = bcrypt.hashSync(PASSWORD, 10);
const variants = { $2b$: passlibBcrypt, $2y$: passlibBcrypt.replace(/^\$2b\$/, '$2y$'), $2a$: passlibBcrypt.replace(/^\$2b\$/, '$2a$') };

describe('hash agility through the password grant', () => {
  let server: TestServer;
  let app: ClientCredentials;
  let accounts: AccountRepository;
  beforeAll(async () => {
    server = await startTestServer({ config: { lockout: GENEROUS_LOCKOUT } });
    app = await server.createClient({ name: 'app', firstParty: true, grantTypes: ['password'], scopes: ['openid'] });
    accounts = server.services.accounts;
  });
  afterAll(async () => { await server?.stop(); });

  const storedHash = async (username: string) => (await accounts.findCredentials(username))!.passwordHash!;

  test.each(Object.entries(variants))('a bcrypt %s hash signs in and is argon2id afterwards', async (prefix, hash) => {
    expect(hash.startsWith(prefix)).toBe(true);
    const username = `imported-${prefix.replaceAll('$', '')}`;
    await accounts.create({ username, passwordHash: hash });

    const wrong = await passwordGrant(server.url, app, { username, password: 'not the password' });
    expect(wrong.body.error).toBe('invalid_grant');
    expect(await storedHash(username)).toBe(hash); // a failure changes nothing

    const res = await passwordGrant(server.url, app, { username, password: PASSWORD, scope: 'openid' });
    expect(res.status).toBe(200);
    const upgraded = await storedHash(username);
    expect(upgraded).toMatch(/^\$argon2id\$/);
    expect(await argon2.verify(upgraded, PASSWORD)).toBe(true);
    expect(server.services.hasher.needsRehash(upgraded)).toBe(false);

    // and the upgraded hash signs in too
    expect((await passwordGrant(server.url, app, { username, password: PASSWORD })).status).toBe(200);
  });

  test('an argon2id hash of other parameters is rehashed with the configured ones at sign-in', async () => {
    const old = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 9216, timeCost: 3, parallelism: 1 });
    await accounts.create({ username: 'old-params', passwordHash: old });
    expect(server.services.hasher.needsRehash(old)).toBe(true);

    expect((await passwordGrant(server.url, app, { username: 'old-params', password: PASSWORD })).status).toBe(200);
    const rehashed = await storedHash('old-params');
    expect(rehashed).not.toBe(old);
    const params = new Set(rehashed.split('$')[3].split(','));
    expect(params).toEqual(new Set([`m=${FAST_HASHING.memoryCost}`, `t=${FAST_HASHING.timeCost}`, `p=${FAST_HASHING.parallelism}`]));
    expect(await argon2.verify(rehashed, PASSWORD)).toBe(true);
  });

  test('a hash at the current parameters is left alone', async () => {
    await server.createUser({ username: 'current', password: PASSWORD });
    const before = await storedHash('current');
    expect((await passwordGrant(server.url, app, { username: 'current', password: PASSWORD })).status).toBe(200);
    expect(await storedHash('current')).toBe(before);
  });

  test('a hash of an unknown kind never signs in, and answers like any failure', async () => {
    await accounts.create({ username: 'md5crypt', passwordHash: '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/' });
    await accounts.create({ username: 'plaintext', passwordHash: PASSWORD });
    for (const username of ['md5crypt', 'plaintext']) {
      const res = await passwordGrant(server.url, app, { username, password: PASSWORD });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'grant request is invalid' });
    }
  });
});

describe('credential verifier', () => {
  let db: Database;
  let accounts: AccountRepository;
  let hasher: PasswordHasher;
  beforeAll(async () => {
    db = await createDatabase({ inMemory: true });
    await migrateToLatest(db.knex);
    accounts = createAccountRepository(db.knex);
    hasher = createPasswordHasher({ ...FAST_HASHING, maxConcurrent: 2, maxQueued: 10 });
  });
  afterAll(async () => { await db?.close(); });

  test('a sign-in stands when the upgrade cannot be hashed right now; the next one upgrades', async () => {
    const account = await accounts.create({ username: 'busy-upgrade', passwordHash: variants.$2b$ });
    const busyHasher: PasswordHasher = { ...hasher, hash: async () => { throw new HashingOverloadedError(); } };
    const busy = createCredentialVerifier({ accounts, hasher: busyHasher });
    expect(await busy('busy-upgrade', PASSWORD, { ip: '192.0.2.1' })).toEqual({ ok: true, accountId: account.id, secondFactorFollows: false });
    expect((await accounts.findCredentials('busy-upgrade'))!.passwordHash).toBe(variants.$2b$);

    const verify = createCredentialVerifier({ accounts, hasher });
    expect(await verify('BUSY-UPGRADE', PASSWORD, { ip: '192.0.2.1' })).toEqual({ ok: true, accountId: account.id, secondFactorFollows: false });
    expect((await accounts.findCredentials('busy-upgrade'))!.passwordHash).toMatch(/^\$argon2id\$/);
  });

  test('the guard hears of every outcome: failure, success, and an attempt that reached no verdict', async () => {
    await accounts.create({ username: 'guarded', passwordHash: await hasher.hash(PASSWORD) });
    const guard = {
      beforeAttempt: jest.fn(async (_username: string, _ip: string): Promise<number | undefined> => undefined),
      recordFailure: jest.fn(async (_username: string, _ip: string) => {}),
      recordSuccess: jest.fn(async (_username: string, _ip: string) => {}),
      releaseAttempt: jest.fn(async (_username: string, _ip: string) => {}),
    } satisfies AttemptGuard;
    const verify = createCredentialVerifier({ accounts, hasher, guard });

    expect(await verify('guarded', 'wrong', { ip: '192.0.2.7' })).toEqual({ ok: false, reason: 'invalid' });
    expect(guard.recordFailure).toHaveBeenCalledWith('guarded', '192.0.2.7');
    expect(await verify('nobody-at-all', 'wrong', { ip: '192.0.2.7' })).toEqual({ ok: false, reason: 'invalid' });
    expect(guard.recordFailure).toHaveBeenCalledWith('nobody-at-all', '192.0.2.7');
    expect((await verify('guarded', PASSWORD, { ip: '192.0.2.7' })).ok).toBe(true);
    expect(guard.recordSuccess).toHaveBeenCalledWith('guarded', '192.0.2.7');

    const overloaded: PasswordHasher = { ...hasher, verify: async () => { throw new HashingOverloadedError(); } };
    await expect(createCredentialVerifier({ accounts, hasher: overloaded, guard })('guarded', PASSWORD, { ip: '192.0.2.7' }))
      .rejects.toBeInstanceOf(HashingOverloadedError);
    expect(guard.releaseAttempt).toHaveBeenCalledWith('guarded', '192.0.2.7');

    guard.beforeAttempt.mockResolvedValueOnce(42);
    expect(await verify('guarded', PASSWORD, { ip: '192.0.2.7' })).toEqual({ ok: false, reason: 'locked', retryAfterSeconds: 42 });
  });
});
