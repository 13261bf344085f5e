import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Redis } from 'ioredis';
import { createAttemptGuard, lockDelaySeconds, LOCKOUT_TABLE, networkOf, type ClosableAttemptGuard } from '../../src/accounts/lockout.ts';
import { createDatabase, type Database } from '../../src/db/index.ts';
import { createRedisClient } from '../../src/redis/index.ts';
import { keysUnder } from '../support/redis-keys.ts';
import { describeWithService, POSTGRES_URL, postgresUp, REDIS_URL, redisUp } from '../support/services.ts';

const LOCKOUT = { maxConsecutiveFailures: 3, baseDelaySeconds: 30, maxDelaySeconds: 600, perIpPerMinute: 1000, perIpAndUsernamePerMinute: 1000 };

describe('lockout helpers', () => {
  test('IPv4 addresses stand for themselves, IPv6 ones for their /64', () => {
    expect(networkOf('203.0.113.7')).toBe('203.0.113.7');
    expect(networkOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(networkOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(networkOf('2001:db8:1:2::9')).toBe('2001:db8:1:2::/64');
    expect(networkOf('2001:DB8:0001:0002:ffff::1')).toBe('2001:db8:1:2::/64');
    expect(networkOf('::1')).toBe('0:0:0:0::/64');
    expect(networkOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  test('the delay starts at the base, doubles with each further failure, and is capped', () => {
    expect(lockDelaySeconds(LOCKOUT, 3)).toBe(30);
    expect(lockDelaySeconds(LOCKOUT, 4)).toBe(60);
    expect(lockDelaySeconds(LOCKOUT, 5)).toBe(120);
    expect(lockDelaySeconds(LOCKOUT, 9)).toBe(600);
    expect(lockDelaySeconds(LOCKOUT, 10_000)).toBe(600);
  });
});

/** The guard's behaviour, the same on every store. */
function guardContract(open: () => Promise<ClosableAttemptGuard>, close: () => Promise<void>) {
  let guard: ClosableAttemptGuard;
  beforeAll(async () => { guard = await open(); });
  afterAll(async () => {
    await guard?.close();
    await close();
  });
  const user = () => `user-${randomUUID()}`;

  test('locks after maxConsecutiveFailures failures, for the base delay; any spelling of the name is locked', async () => {
    const name = user();
    for (let i = 0; i < 3; i++) {
      expect(await guard.beforeAttempt(name, '192.0.2.1')).toBeUndefined();
      await guard.recordFailure(name, '192.0.2.1');
    }
    const wait = await guard.beforeAttempt(name, '192.0.2.1');
    expect(wait).toBeGreaterThan(25);
    expect(wait).toBeLessThanOrEqual(30);
    expect(await guard.beforeAttempt(`  ${name.toUpperCase()}`, '198.51.100.9')).toBeGreaterThan(25);
    expect(await guard.beforeAttempt(user(), '192.0.2.1')).toBeUndefined();
  });

  test('a success resets the count', async () => {
    const name = user();
    for (let i = 0; i < 2; i++) {
      await guard.beforeAttempt(name, '192.0.2.2');
      await guard.recordFailure(name, '192.0.2.2');
    }
    await guard.beforeAttempt(name, '192.0.2.2');
    await guard.recordSuccess(name, '192.0.2.2');
    for (let i = 0; i < 2; i++) {
      expect(await guard.beforeAttempt(name, '192.0.2.2')).toBeUndefined();
      await guard.recordFailure(name, '192.0.2.2');
    }
    expect(await guard.beforeAttempt(name, '192.0.2.2')).toBeUndefined();
  });

  test('an attempt that reached no verdict is given back', async () => {
    const name = user();
    for (let i = 0; i < 5; i++) {
      expect(await guard.beforeAttempt(name, '192.0.2.3')).toBeUndefined();
      await guard.releaseAttempt!(name, '192.0.2.3');
    }
  });

  test('of many simultaneous attempts on a fresh account exactly maxConsecutiveFailures go ahead', async () => {
    const name = user();
    const waits = await Promise.all(Array.from({ length: 12 }, (_, i) => guard.beforeAttempt(name, `192.0.2.${10 + i}`)));
    expect(waits.filter((w) => w === undefined)).toHaveLength(3);
  });
}

describe('attempt guard on the embedded SQL store (PGlite)', () => {
  let db: Database;
  const user = () => `user-${randomUUID()}`;
  guardContract(async () => {
    db = await createDatabase({ inMemory: true });
    return createAttemptGuard({ lockout: LOCKOUT, knex: db.knex });
  }, async () => { await db?.close(); });

  test('stores digests, never usernames or addresses', async () => {
    const rows = await db.knex(LOCKOUT_TABLE).select('key');
    expect(rows.length).toBeGreaterThan(0);
    for (const { key } of rows as Array<{ key: string }>) {
      expect(key).toMatch(/^(attempts|fail|lock|ip|ipuser|setup):[A-Za-z0-9_-]{43}$/);
    }
  });

  test('a second guard on the same database (a restart) reuses the table', async () => {
    const again = await createAttemptGuard({ lockout: LOCKOUT, knex: db.knex });
    expect(await again.beforeAttempt(user(), '192.0.2.99')).toBeUndefined();
    await again.close();
  });
});

describeWithService('Postgres', await postgresUp())('attempt guard on Postgres', () => {
  const schema = `t_lockout_${randomUUID().slice(0, 8)}`;
  let db: Database;
  guardContract(async () => {
    db = await createDatabase({ databaseUrl: POSTGRES_URL, schema });
    return createAttemptGuard({ lockout: LOCKOUT, knex: db.knex });
  }, async () => {
    await db?.knex.raw('drop schema if exists ?? cascade', [schema]);
    await db?.close();
  });
});

describeWithService('Redis', await redisUp())('attempt guard on Redis', () => {
  const connectionPrefix = `test:tessera:${randomUUID()}:`;
  let redis: Redis;
  beforeAll(() => { redis = createRedisClient({ url: REDIS_URL }) as Redis; });
  afterAll(async () => {
    for (const key of await keysUnder(redis, connectionPrefix)) await redis.del(key);
    await redis.quit();
  });

  guardContract(
    () => createAttemptGuard({ lockout: LOCKOUT, redis: { url: REDIS_URL, keyPrefix: connectionPrefix } }),
    async () => {},
  );

  test('keys are digests under the prefix, and every one expires', async () => {
    const keys = await keysUnder(redis, connectionPrefix);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toMatch(new RegExp(`^${connectionPrefix}tessera:lockout:(attempts|fail|lock|ip|ipuser):[A-Za-z0-9_-]{43}$`));
      expect(await redis.pttl(key)).toBeGreaterThan(0);
    }
  });
});
