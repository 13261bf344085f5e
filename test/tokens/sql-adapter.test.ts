import { randomBytes } from 'node:crypto';
import { describe, expect, test } from '@jest/globals';
import { createDatabase, migrateToLatest, type Database } from '../../src/db/index.ts';
import { createSqlTokenState, type SqlTokenState } from '../../src/tokens/sql-token-state.ts';
import { tokenDigest } from '../../src/crypto/index.ts';
import { POSTGRES_URL, describeWithService, postgresUp } from '../support/services.ts';
import { adapterContract } from './adapter-contract.ts';

const TOKEN_TABLES = ['token_state', 'jti_denylist', 'issued_jwts'];

/** Every row of every token table, as one string (for the at-rest check). */
async function dumpTokenTables(db: Database): Promise<string> {
  const parts: string[] = [];
  for (const table of TOKEN_TABLES) {
    for (const row of await db.knex(table).select('*')) parts.push(table, JSON.stringify(row));
  }
  return parts.join('\n');
}

/** The contract, plus what only SQL has: purging expired rows. */
function sqlTokenStateSuite(open: () => Promise<Database>, close: (db: Database) => Promise<void>, options: { singleProcess?: boolean } = {}) {
  let db: Database;
  let state: SqlTokenState;

  adapterContract(
    async () => {
      db = await open();
      await migrateToLatest(db.knex);
      state = createSqlTokenState(db.knex, options);
      return state;
    },
    () => close(db),
    () => dumpTokenTables(db),
  );

  test('purgeExpired removes expired rows of every token table and keeps live ones', async () => {
    const tokens = state.adapterFactory('AccessToken');
    const live = randomBytes(32).toString('base64url');
    const dead = randomBytes(32).toString('base64url');
    await tokens.upsert(live, { kind: 'AccessToken' }, 60);
    await tokens.upsert(dead, { kind: 'AccessToken' }, 60);
    const past = new Date(Date.now() - 1000);
    await db.knex('token_state').update({ expires_at: past }).where({ model: 'AccessToken', key: tokenDigest(dead) });
    await db.knex('jti_denylist').insert({ jti: 'purge-me', expires_at: past });
    await db.knex('issued_jwts').insert({ grant_id: 'g-purge', jti: 'purge-me', expires_at: past });

    expect(await state.purgeExpired()).toBeGreaterThanOrEqual(3);
    expect(await db.knex('token_state').where('expires_at', '<=', new Date())).toEqual([]);
    expect(await db.knex('jti_denylist').where({ jti: 'purge-me' })).toEqual([]);
    expect(await db.knex('issued_jwts').where({ jti: 'purge-me' })).toEqual([]);
    expect(await tokens.find(live)).toBeDefined();
  });
}

describe('SQL token state on PGlite (in memory)', () => {
  sqlTokenStateSuite(
    () => createDatabase({ inMemory: true }),
    (db) => db.close(),
  );
});

describe('SQL token state on PGlite, single process (the server\'s embedded mode: denylist mirrored in memory)', () => {
  sqlTokenStateSuite(
    () => createDatabase({ inMemory: true }),
    (db) => db.close(),
    { singleProcess: true },
  );

  test('records it wrote are read back without SQL, and every later write is seen; older ones come from SQL', async () => {
    const db = await createDatabase({ inMemory: true });
    try {
      await migrateToLatest(db.knex);
      const earlier = createSqlTokenState(db.knex, { singleProcess: true });
      await earlier.adapterFactory('RefreshToken').upsert('from-before-restart', { kind: 'RefreshToken', grantId: 'g0' }, 60);

      const state = createSqlTokenState(db.knex, { singleProcess: true });
      const access = state.adapterFactory('AccessToken');
      const credentials = state.adapterFactory('ClientCredentials');
      const refresh = state.adapterFactory('RefreshToken');
      await credentials.upsert('cc-token', { kind: 'ClientCredentials', clientId: 'c1' }, 60);
      await refresh.upsert('rt-token', { kind: 'RefreshToken', grantId: 'g1' }, 60);
      await access.upsert('at-token', { kind: 'AccessToken', grantId: 'g1' }, 60);
      const selects: string[] = [];
      db.knex.on('query', (q: { sql: string }) => { if (/^select/i.test(q.sql)) selects.push(q.sql); });

      // as introspection asks: one id as three kinds of token
      const found = await Promise.all([access.find('cc-token'), credentials.find('cc-token'), refresh.find('cc-token')]);
      expect(found.map((f) => f?.clientId)).toEqual([undefined, 'c1', undefined]);
      expect(found[1]).toMatchObject({ jti: 'cc-token', kind: 'ClientCredentials' });
      await refresh.consume('rt-token');
      expect((await refresh.find('rt-token'))?.consumed).toEqual(expect.any(Number));
      await credentials.destroy('cc-token');
      expect(await credentials.find('cc-token')).toBeUndefined();
      await refresh.revokeByGrantId('g1');
      expect(await refresh.find('rt-token')).toBeUndefined();
      expect(await access.find('at-token')).toBeUndefined();
      expect(selects).toEqual([]);

      expect(await refresh.find('from-before-restart')).toMatchObject({ grantId: 'g0', jti: 'from-before-restart' });
      expect(selects).toHaveLength(1);
      expect(await refresh.find('never-written')).toBeUndefined();
      expect(selects).toHaveLength(2);
    } finally {
      await db.close();
    }
  });

  test('the mirror starts from what the table holds (a restart), and a check then reads no SQL', async () => {
    const db = await createDatabase({ inMemory: true });
    try {
      await migrateToLatest(db.knex);
      const epoch = () => Math.floor(Date.now() / 1000);
      const before = createSqlTokenState(db.knex, { singleProcess: true });
      await before.denylist.add('revoked-before-restart', epoch() + 60);
      await db.knex('issued_jwts').insert({ grant_id: 'g-restart', jti: 'of-revoked-grant', expires_at: new Date(Date.now() + 60_000) });
      await before.adapterFactory('RefreshToken').revokeByGrantId('g-restart');

      const after = createSqlTokenState(db.knex, { singleProcess: true });
      expect(await after.denylist.has('revoked-before-restart')).toBe(true);
      expect(await after.denylist.has('of-revoked-grant')).toBe(true);
      const queries: string[] = [];
      db.knex.on('query', (q: { sql: string }) => { queries.push(q.sql); });
      expect(await after.denylist.has('never-revoked')).toBe(false);
      expect(await after.denylist.has('revoked-before-restart')).toBe(true);
      expect(queries).toEqual([]);
      await after.denylist.add('revoked-after', epoch() + 60);
      expect(await after.denylist.has('revoked-after')).toBe(true);
    } finally {
      await db.close();
    }
  });
});

// A fresh schema on the machine's Postgres, dropped afterwards.
const schema = `t_tokens_${randomBytes(6).toString('hex')}`;

describeWithService('Postgres', await postgresUp())('SQL token state on Postgres', () => {
  sqlTokenStateSuite(
    () => createDatabase({ databaseUrl: POSTGRES_URL, schema }),
    async (db) => {
      try {
        await db.knex.raw('drop schema if exists ?? cascade', [schema]);
      } finally {
        await db.close();
      }
    },
  );
});
