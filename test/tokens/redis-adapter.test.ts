import { randomUUID } from 'node:crypto';
import { describe, expect, test } from '@jest/globals';
import type { Redis } from 'ioredis';
import { createRedisClient } from '../../src/redis/index.ts';
import { createRedisTokenState } from '../../src/tokens/redis-token-state.ts';
import { REDIS_URL, describeWithService, redisUp } from '../support/services.ts';
import { startRedisServer } from '../support/redis-cluster.ts';
import { dumpUnder, keysUnder } from '../support/redis-keys.ts';
import { adapterContract, expectRecoveredAfterRestart } from './adapter-contract.ts';

const quiet = () => {};

// The machine's Redis is shared: everything this file writes lives under its
// own random prefix, and cleanup deletes exactly those keys.
const prefix = `test:tessera:${randomUUID()}:`;
let client: Redis;

// First, so that ioredis' 2 s disconnect timer of the unreachable client
// (harmless) has run out before the run ends.
describe('Redis connection', () => {
  test('ping fails fast while Redis is unreachable instead of hanging', async () => {
    const state = createRedisTokenState(createRedisClient({ url: 'redis://127.0.0.1:1', onError: quiet }));
    const started = Date.now();
    await expect(state.ping()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
    await state.close();
  });

  test('a client reconnects by itself when Redis comes back', async () => {
    let server = await startRedisServer();
    const state = createRedisTokenState(
      createRedisClient({ url: `redis://127.0.0.1:${server.port}`, onError: quiet }),
    );
    try {
      await state.ping();
      await server.stop();
      const started = Date.now();
      await expect(state.ping()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(5000);

      server = await startRedisServer(server.port);
      await expectRecoveredAfterRestart(state, () => state.ping(), 10_000);
    } finally {
      await state.close();
      await server.stop();
    }
  });

  test('a URL of another scheme is refused without echoing it', () => {
    expect(() => createRedisClient({ url: 'http://user:s3cret@host' })).toThrow(/redis:\/\/ or rediss:\/\//);
    try {
      createRedisClient({ url: 'http://user:s3cret@host' });
    } catch (error) {
      expect(String(error)).not.toContain('s3cret');
    }
  });

  test('rediss:// turns on TLS and the path selects the database', () => {
    const tls = createRedisClient({ url: 'rediss://:pw@127.0.0.1:1/3', onError: quiet }) as Redis;
    try {
      expect(tls.options.tls).toBeTruthy();
      expect(tls.options.db).toBe(3);
      expect(tls.options.password).toBe('pw');
      expect(tls.options.maxRetriesPerRequest).toBe(1);
    } finally {
      tls.disconnect();
    }
  });
});

describeWithService('Redis', await redisUp())('Redis token state (single node)', () => {
  adapterContract(
    async () => {
      client = createRedisClient({ url: REDIS_URL }) as Redis;
      return createRedisTokenState(client, { prefix });
    },
    async () => {
      for (const key of await keysUnder(client, prefix)) await client.del(key);
      await client.quit();
    },
    () => dumpUnder([client], prefix),
  );

  test('every key the suite left under its prefix has a TTL (nothing grows unbounded)', async () => {
    const keys = await keysUnder(client, prefix);
    expect(keys.length).toBeGreaterThan(20);
    const withoutTtl = [];
    for (const key of keys) {
      if (await client.pttl(key) <= 0) withoutTtl.push(key);
    }
    expect(withoutTtl).toEqual([]);
  });

  test('a grant index lives as long as its longest member, and is never shortened', async () => {
    const state = createRedisTokenState(client, { prefix });
    const grantId = `grant-${randomUUID()}`;
    const at = state.adapterFactory('AccessToken');
    await at.upsert(randomUUID(), { grantId, kind: 'AccessToken' }, 600);
    await at.upsert(randomUUID(), { grantId, kind: 'AccessToken' }, 60);
    const ttl = await client.pttl(`${prefix}grant:${grantId}`);
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
  });

  test('upsert without a TTL is refused: everything in the token state expires', async () => {
    const state = createRedisTokenState(client, { prefix });
    await expect(state.adapterFactory('Session').upsert(randomUUID(), { uid: 'u' })).rejects.toThrow(/expiresIn/);
  });
});
