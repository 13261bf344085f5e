import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createDatabase, type Database } from '../../src/db/index.ts';
import { applyMigration, migrateUpTo } from '../../src/db/migrate.ts';
import { createAccountRepository } from '../../src/accounts/index.ts';
import { canonicalUsername, usernameSkeleton } from '../../src/accounts/username.ts';
import { describeWithService, POSTGRES_URL, postgresUp } from '../support/services.ts';

const MIGRATION = '0003_canonical_usernames';

/** Accounts as an older Tessera (unique by lower(username) only) could hold them. */
const OLD_USERNAMES = ['alice', 'Bob', 'CAROL', 'dave.smith@example.com', 'józef', 'ﬁona', 'straße'];

function migrationSuite(open: () => Promise<Database>) {
  let db: Database;
  beforeAll(async () => { db = await open(); });
  afterAll(async () => { await db?.close(); });

  const insertAccounts = (knex: Database['knex'], usernames: string[]) =>
    knex('accounts').insert(usernames.map((username) => ({ id: randomUUID(), username, password_hash: null })));
  const columns = async (knex: Database['knex']) => Object.keys(await knex('accounts').columnInfo());

  test('a clash of two spellings of one username stops the migration, naming the accounts; nothing is changed', async () => {
    const knex = db.knex;
    await migrateUpTo(knex, MIGRATION);
    // 'ﬀ' (ligature) and 'FF' were two usernames for lower(); they are one now
    const [clashA, clashB] = [randomUUID(), randomUUID()];
    await knex('accounts').insert([{ id: clashA, username: 'ﬀ', password_hash: null }, { id: clashB, username: 'FF', password_hash: null }]);

    const failure = applyMigration(knex, MIGRATION);
    await expect(failure).rejects.toThrow(new RegExp(`differ only in case or Unicode form.*\\[(${clashA}, ${clashB}|${clashB}, ${clashA})\\]`));
    expect(await columns(knex)).not.toContain('username_canonical');
    expect((await knex('knex_migrations').select('name')).map((r) => r.name)).not.toContain(MIGRATION);

    await knex('accounts').where({ id: clashB }).delete();
  });

  test('backfills the canonical form and skeleton of every existing account; lookups and uniqueness use it', async () => {
    const knex = db.knex;
    await insertAccounts(knex, OLD_USERNAMES);
    await applyMigration(knex, MIGRATION);

    const rows: Array<{ username: string; username_canonical: string; username_skeleton: string }> = await knex('accounts').select();
    expect(rows).toHaveLength(OLD_USERNAMES.length + 1);
    for (const row of rows) {
      expect(row.username_canonical).toBe(canonicalUsername(row.username));
      expect(row.username_skeleton).toBe(usernameSkeleton(row.username));
    }

    const accounts = createAccountRepository(knex);
    expect((await accounts.findByUsername('STRASSE'))?.username).toBe('straße');
    expect((await accounts.findByUsername('fiona'))?.username).toBe('ﬁona');
    expect((await accounts.findByUsername('ｂｏｂ'))?.username).toBe('Bob');
    // the index itself refuses a second spelling, whatever wrote it
    await expect(knex('accounts').insert({ id: randomUUID(), username: 'ALICE', username_canonical: 'alice', username_skeleton: 'alice' }))
      .rejects.toMatchObject({ code: '23505' });
  });
}

describe('migration 0003_canonical_usernames on PGlite', () => {
  migrationSuite(() => createDatabase({ inMemory: true }));
});

describeWithService('Postgres', await postgresUp())('migration 0003_canonical_usernames on Postgres', () => {
  const schema = `t_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  migrationSuite(() => createDatabase({ databaseUrl: POSTGRES_URL, schema }));
  afterAll(async () => {
    const db = await createDatabase({ databaseUrl: POSTGRES_URL });
    await db.knex.raw('drop schema if exists ?? cascade', [schema]).finally(() => db.close());
  });
});
