// Issue 12, "done means" 5 (TOTP and recovery codes; passkeys are
// test/integration/passkeys-at-rest.test.ts): a copy of the database yields no
// TOTP secret and no recovery code. TOTP is enrolled through the MFA service
// (as /account does), a recovery code is used and new ones are made (the old
// ones deleted), a second enrollment is left waiting for its first code; then
// every form in which a secret could be written is looked for:
//   - embedded PGlite: every file under DATA_DIR as bytes, after the server
//     stopped (PGlite flushes on close), so the WAL and deleted rows count too;
//   - Postgres: `pg_dump --schema=<schema> test`, and the raw rows of every table.
// The scans must see the sealed TOTP row and the account ids (canaries), so a
// scan that reads nothing cannot pass. Finally the sealed secret opens with the
// key in KEYS_DIR/mfa-key.json, for its own account only, and not with any other key.
import { describe, test, expect } from '@jest/globals';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as OTPAuth from 'otpauth';
import { startTestServer, type TestServer } from '../support/server.ts';
import { describeWithService, postgresUp, POSTGRES_URL } from '../support/services.ts';
import { createDatabase, type Database } from '../../src/db/index.ts';
import { unseal } from '../../src/crypto/sealing.ts';
import { MFA_KEY_FILE } from '../../src/keys/keystore.ts';

const PG_DUMP = '/usr/bin/pg_dump';
const CONTEXT = { ip: '127.0.0.1', via: 'account' as const };

interface Enrolled {
  accountId: string;
  /** base32, as the person types it */
  secret: string;
  /** every recovery code the account was ever given (used, current, replaced) */
  recoveryCodes: string[];
}

/** The needles: each secret in every form it could be written in, with what it is. */
function needlesOf(enrolled: Enrolled[]): Array<[Buffer, string]> {
  const needles: Array<[Buffer, string]> = [];
  const add = (value: Buffer | string, kind: string) => {
    const bytes = typeof value === 'string' ? Buffer.from(value) : value;
    expect(bytes.length).toBeGreaterThanOrEqual(8); // a short needle could match by chance
    needles.push([bytes, kind]);
  };
  for (const { secret, recoveryCodes } of enrolled) {
    const raw = Buffer.from(OTPAuth.Secret.fromBase32(secret).bytes);
    add(secret, 'TOTP secret (base32)');
    add(secret.toLowerCase(), 'TOTP secret (base32, lower case)');
    add(raw, 'TOTP secret (raw bytes)');
    add(raw.toString('hex'), 'TOTP secret (hex)');
    add(raw.toString('hex').toUpperCase(), 'TOTP secret (HEX)');
    add(raw.toString('base64'), 'TOTP secret (base64)');
    add(raw.toString('base64url'), 'TOTP secret (base64url)');
    for (const code of recoveryCodes) {
      const bare = code.replace(/[-\s]/g, '');
      add(code, 'recovery code');
      add(bare, 'recovery code (without dashes)');
      add(bare.toLowerCase(), 'recovery code (lower case, without dashes)');
      add(bare.toUpperCase(), 'recovery code (upper case, without dashes)');
    }
  }
  return needles;
}

function found(haystack: Buffer, needles: Array<[Buffer, string]>, where: string): string[] {
  return needles.filter(([needle]) => haystack.includes(needle)).map(([, kind]) => `${kind} in ${where}`);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile());
}

/** Every row of every table of the current schema, as JSON text. */
async function rawRows(db: Database): Promise<string> {
  const { rows } = await db.knex.raw(
    "select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by 1",
  ) as { rows: Array<{ table_name: string }> };
  expect(rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['accounts', 'mfa_totp', 'mfa_recovery_codes']));
  const parts: string[] = [];
  for (const { table_name: table } of rows) {
    const dumped = await db.knex.raw('select row_to_json(t)::text as row from ?? t', [table]) as { rows: Array<{ row: string }> };
    parts.push(`-- ${table}`, ...dumped.rows.map((r) => r.row));
  }
  return parts.join('\n');
}

/** A TOTP secret confirmed by its first code, a recovery code used, then ten new codes (the first ten stop working). */
async function enrollTotp(server: TestServer, username: string): Promise<Enrolled> {
  const { id } = await server.createUser({ username, password: `${username} password` });
  const enrollment = await server.services.mfa.startTotpEnrollment(id);
  const totp = OTPAuth.URI.parse(enrollment.otpauthUri) as OTPAuth.TOTP;
  expect(totp.secret.base32.replace(/=+$/, '')).toBe(enrollment.secret.replace(/=+$/, ''));
  const confirmed = await server.services.mfa.confirmTotpEnrollment(id, totp.generate(), CONTEXT);
  if (!confirmed.ok) throw new Error(`the first code was refused: ${confirmed.reason}`);
  expect(confirmed.recoveryCodes).toHaveLength(10);
  expect(await server.services.mfa.verifyCode(id, confirmed.recoveryCodes[0], { ...CONTEXT, via: 'login_page' })).toMatchObject({ ok: true });
  const renewed = await server.services.mfa.newRecoveryCodes(id);
  expect(renewed).toHaveLength(10);
  expect(await server.services.mfa.factorsOf(id)).toEqual({ totp: true, passkeys: 0, recoveryCodesLeft: 10 });
  return { accountId: id, secret: enrollment.secret, recoveryCodes: [...confirmed.recoveryCodes, ...renewed] };
}

/** An enrollment waiting for its first code: its secret is stored (sealed) too. */
async function startEnrollment(server: TestServer, username: string): Promise<Enrolled> {
  const { id } = await server.createUser({ username, password: `${username} password` });
  const enrollment = await server.services.mfa.startTotpEnrollment(id);
  return { accountId: id, secret: enrollment.secret, recoveryCodes: [] };
}

async function exercise(server: TestServer): Promise<Enrolled[]> {
  return [await enrollTotp(server, 'tove'), await enrollTotp(server, 'ulla'), await startEnrollment(server, 'vera')];
}

/** The sealed secret opens with the key in KEYS_DIR, for its own account only; another key opens nothing. */
async function expectSealedUnderKeysDirKey(db: Database, keysDir: string, enrolled: Enrolled[]): Promise<void> {
  const key = Buffer.from(JSON.parse(readFileSync(join(keysDir, MFA_KEY_FILE), 'utf8')).mfaKey, 'base64url');
  expect(key).toHaveLength(32);
  const otherKey = randomBytes(32);
  for (const { accountId, secret } of enrolled) {
    const row = await db.knex('mfa_totp').where({ account_id: accountId }).first() as { secret_sealed: string | null; pending_secret_sealed: string | null } | undefined;
    expect(row).toBeDefined();
    // confirmed, or still waiting for its first code
    const sealed = row!.secret_sealed ?? row!.pending_secret_sealed!;
    expect(sealed).toEqual(expect.any(String));
    const opened = unseal(key, sealed, accountId);
    // what was sealed is the secret, in whatever encoding the service keeps it
    const raw = Buffer.from(OTPAuth.Secret.fromBase32(secret).bytes);
    expect([secret, raw.toString('base64url'), raw.toString('base64'), raw.toString('hex'), raw.toString('latin1')]).toContain(opened);
    expect(() => unseal(otherKey, sealed, accountId)).toThrow();
    // bound to its row: copied onto another account it does not open
    const other = enrolled.find((e) => e.accountId !== accountId)!;
    expect(() => unseal(key, sealed, other.accountId)).toThrow();
  }
}

/** What the scan must see (so a scan that reads nothing cannot pass): the account ids and a sealed TOTP secret. */
async function canariesOf(db: Database, enrolled: Enrolled[]): Promise<string[]> {
  const rows = await db.knex('mfa_totp').select('secret_sealed', 'pending_secret_sealed') as Array<{ secret_sealed: string | null; pending_secret_sealed: string | null }>;
  expect(rows.length).toBe(enrolled.length);
  const sealed = rows.flatMap((row) => [row.secret_sealed, row.pending_secret_sealed]).filter((value): value is string => !!value);
  expect(sealed.length).toBe(enrolled.length);
  return [...enrolled.map((e) => e.accountId), ...sealed];
}

function expectCanaries(haystack: Buffer, canaries: string[], where: string): void {
  for (const canary of canaries) expect({ where, canary, seen: haystack.includes(Buffer.from(canary)) }).toEqual({ where, canary, seen: true });
}

describe('TOTP secrets and recovery codes at rest: embedded database (PGlite files)', () => {
  test('no file under DATA_DIR holds a secret or a recovery code in any encoding; the sealed secret needs the KEYS_DIR key', async () => {
    const server = await startTestServer({ database: 'file' });
    try {
      const enrolled = await exercise(server);
      const canaries = await canariesOf(server.db, enrolled);
      await server.stop({ keep: true }); // PGlite writes everything out on close

      const files = filesUnder(server.config.dataDir);
      expect(files.length).toBeGreaterThan(100); // a real Postgres data directory
      const contents = files.map((file) => readFileSync(file));
      expectCanaries(Buffer.concat(contents), canaries, 'the data directory');
      const needles = needlesOf(enrolled);
      const hits = files.flatMap((file, i) => found(contents[i], needles, file.slice(server.config.dataDir.length + 1)));

      const db = await createDatabase({ dataDir: server.config.dataDir });
      try {
        const rows = Buffer.from(await rawRows(db));
        expectCanaries(rows, canaries, 'the rows');
        hits.push(...found(rows, needles, 'the rows'));
        await expectSealedUnderKeysDirKey(db, server.config.keysDir, enrolled);
      } finally {
        await db.close();
      }
      expect(hits).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});

describeWithService('Postgres', await postgresUp())('TOTP secrets and recovery codes at rest: Postgres', () => {
  test('pg_dump of the schema and its raw rows hold no secret or recovery code in any encoding; the sealed secret needs the KEYS_DIR key', async () => {
    const server = await startTestServer({ database: 'postgres' });
    try {
      const enrolled = await exercise(server);
      const canaries = await canariesOf(server.db, enrolled);
      await server.stop({ keep: true });

      const { stdout } = await promisify(execFile)(PG_DUMP, [`--schema=${server.schema}`, '--no-owner', `--dbname=${POSTGRES_URL}`], { maxBuffer: 256 * 1024 * 1024, encoding: 'buffer' });
      const dump = stdout as unknown as Buffer;
      expectCanaries(dump, canaries, 'pg_dump');
      const needles = needlesOf(enrolled);
      const hits = found(dump, needles, 'pg_dump');

      const db = await createDatabase({ databaseUrl: POSTGRES_URL, schema: server.schema });
      try {
        const rows = Buffer.from(await rawRows(db));
        expectCanaries(rows, canaries, 'the rows');
        hits.push(...found(rows, needles, 'the rows'));
        await expectSealedUnderKeysDirKey(db, server.config.keysDir, enrolled);
      } finally {
        await db.close();
      }
      expect(hits).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
