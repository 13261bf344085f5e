/*
 * TokenState.replays (ReplayGuard): a key claimed once within its TTL, of N
 * concurrent claims exactly one wins, stored as a digest with an expiry — on
 * PGlite, Postgres and Redis.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Redis } from 'ioredis';
import { createDatabase, migrateToLatest, type Database } from '../../src/db/index.ts';
import { createSqlTokenState } from '../../src/tokens/sql-token-state.ts';
import { createRedisTokenState } from '../../src/tokens/redis-token-state.ts';
import { createRedisClient } from '../../src/redis/index.ts';
import type { TokenState } from '../../src/tokens/index.ts';
import { POSTGRES_URL, REDIS_URL, describeWithService, postgresUp, redisUp } from '../support/services.ts';
import { dumpUnder, keysUnder } from '../support/redis-keys.ts';

/** What every store must do; `stored` dumps what the store holds, for the at-rest check. */
function replayGuardContract(open: () => Promise<TokenState>, stored: () => Promise<string>) {
  let state: TokenState;
  beforeAll(async () => { state = await open(); });

  test('the first claim of a key wins, every later one loses; other keys are independent', async () => {
    const key = `client\u0000${randomUUID()}`;
    expect(await state.replays.claimOnce(key, 60)).toBe(true);
    expect(await state.replays.claimOnce(key, 60)).toBe(false);
    expect(await state.replays.claimOnce(key, 60)).toBe(false);
    expect(await state.replays.claimOnce(`${key}x`, 60)).toBe(true);
  });

  test('of 20 concurrent claims of one key exactly one wins', async () => {
    const key = `client\u0000${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 20 }, () => state.replays.claimOnce(key, 60)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  test('the key is stored only as a digest', async () => {
    const jti = randomBytes(24).toString('base64url');
    await state.replays.claimOnce(`client\u0000${jti}`, 60);
    expect(await stored()).not.toContain(jti);
  });
}

function sqlSuite(openDb: () => Promise<Database>, closeDb: (db: Database) => Promise<void>) {
  let db: Database;
  const open = async () => {
    db = await openDb();
    await migrateToLatest(db.knex);
    return createSqlTokenState(db.knex);
  };
  afterAll(async () => { if (db) await closeDb(db); });
  replayGuardContract(open, async () => JSON.stringify(await db.knex('token_state').select('*')));

  test('an expired claim (not yet purged) can be claimed again, once', async () => {
    const state = createSqlTokenState(db.knex);
    const key = `client\u0000${randomUUID()}`;
    expect(await state.replays.claimOnce(key, 60)).toBe(true);
    // as if its TTL had passed: no waiting in the test
    await db.knex('token_state').where({ model: 'Replay#claim' }).update({ expires_at: new Date(Date.now() - 1000) });
    const again = await Promise.all([state.replays.claimOnce(key, 60), state.replays.claimOnce(key, 60)]);
    expect(again.filter(Boolean)).toHaveLength(1);
    // the purge leaves the live claim alone
    await state.purgeExpired();
    expect(await state.replays.claimOnce(key, 60)).toBe(false);
  });
}

describe('ReplayGuard on PGlite', () => {
  sqlSuite(() => createDatabase({ inMemory: true }), (db) => db.close());
});

describeWithService('Postgres', await postgresUp())('ReplayGuard on Postgres', () => {
  const schema = `t_replay_${randomBytes(6).toString('hex')}`;
  sqlSuite(
    () => createDatabase({ databaseUrl: POSTGRES_URL, schema }),
    async (db) => {
      await db.knex.raw('drop schema if exists ?? cascade', [schema]);
      await db.close();
    },
  );
});

describeWithService('Redis', await redisUp())('ReplayGuard on Redis', () => {
  const prefix = `test:tessera:replay:${randomUUID()}:`;
  let client: Redis;
  let state: TokenState | undefined;
  afterAll(async () => {
    for (const key of await keysUnder(client, prefix)) await client.del(key);
    await state?.close();
  });
  replayGuardContract(async () => {
    client = createRedisClient({ url: REDIS_URL }) as Redis;
    state = createRedisTokenState(client, { prefix });
    return state;
  }, () => dumpUnder([client], prefix));

  test('a claim is one key with the TTL asked for', async () => {
    const before = new Set(await keysUnder(client, prefix));
    await state!.replays.claimOnce(`client\u0000${randomUUID()}`, 30);
    const added = (await keysUnder(client, prefix)).filter((key) => !before.has(key));
    expect(added).toEqual([expect.stringMatching(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}replay:`))]);
    const ttl = await client.pttl(added[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });
});
