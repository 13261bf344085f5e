/*
 * The limiter's leases against real counters: memory (embedded), Redis and
 * Postgres (the shared ones). A clock passed in moves windows without waiting.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createRateLimiter, type SharedCounters } from '../../src/http/index.ts';
import { memoryRateLimitCounters, redisRateLimitCounters, sqlRateLimitCounters } from '../../src/tokens/index.ts';
import { createDatabase, migrateToLatest, type Database } from '../../src/db/index.ts';
import { POSTGRES_URL, REDIS_URL, describeWithService, postgresUp, redisUp } from '../support/services.ts';

/**
 * The start of a window still ahead: the counters expire by the real clock,
 * so the limiter's clock must be near it (a window in the past would be gone).
 */
const nextWindow = (windowMs: number) => (Math.floor(Date.now() / windowMs) + 1) * windowMs;

/** Counts how often the shared store is asked. */
function counting(counters: SharedCounters) {
  let calls = 0;
  return {
    get calls() { return calls; },
    add: (name: string, amount: number, expiresAtMs: number) => { calls += 1; return counters.add(name, amount, expiresAtMs); },
  };
}

async function admitted(limiter: ReturnType<typeof createRateLimiter>, key: string, requests: number) {
  let allowed = 0;
  for (let i = 0; i < requests; i += 1) if ((await limiter.consume(key)).allowed) allowed += 1;
  return allowed;
}

describe('one instance, memory counters', () => {
  test('exactly `limit` requests pass in a window, then 429 until the window ends; one store call per batch', async () => {
    let now = nextWindow(60_000);
    const counters = counting(memoryRateLimitCounters());
    const limiter = createRateLimiter({ name: 't', rule: { limit: 100, windowSeconds: 60 }, counters, now: () => now });
    expect(await admitted(limiter, 'client-a', 150)).toBe(100);
    expect(counters.calls).toBeLessThanOrEqual(100 / 2 + 1); // batches of 2 (a fiftieth of 100)
    const refused = await limiter.consume('client-a');
    expect(refused).toMatchObject({ allowed: false, limit: 100, remaining: 0, resetSeconds: 60, windowSeconds: 60 });
    now += 59_500;
    expect((await limiter.consume('client-a')).resetSeconds).toBe(1);
    // another key has its own count
    expect((await limiter.consume('client-b')).allowed).toBe(true);
    now += 500; // the next window
    expect(await admitted(limiter, 'client-a', 100)).toBe(100);
    expect((await limiter.consume('client-a')).allowed).toBe(false);
  });

  test('a big limit is served from the lease: 1,000 requests, one store call', async () => {
    const counters = counting(memoryRateLimitCounters());
    const limiter = createRateLimiter({ name: 't', rule: { limit: 1_000_000, windowSeconds: 60 }, counters, now: () => nextWindow(60_000) });
    expect(await admitted(limiter, 'k', 1000)).toBe(1000);
    expect(counters.calls).toBe(1);
  });

  test('a refunded slot can be used again, once, in its window only', async () => {
    let now = nextWindow(10_000);
    const limiter = createRateLimiter({ name: 't', rule: { limit: 2, windowSeconds: 10 }, counters: memoryRateLimitCounters(), now: () => now });
    const first = await limiter.consume('k');
    expect((await limiter.consume('k')).allowed).toBe(true);
    expect((await limiter.consume('k')).allowed).toBe(false);
    first.refund();
    first.refund(); // twice is once
    expect((await limiter.consume('k')).allowed).toBe(true);
    expect((await limiter.consume('k')).allowed).toBe(false);
    const last = await limiter.consume('k');
    now += 10_000;
    const next = await limiter.consume('k');
    last.refund(); // from the window before: nothing
    expect(next.allowed).toBe(true);
    expect((await limiter.consume('k')).allowed).toBe(true);
    expect((await limiter.consume('k')).allowed).toBe(false);
  });

  test('concurrent requests for one key share a lease being taken and never pass over the limit', async () => {
    const limiter = createRateLimiter({ name: 't', rule: { limit: 37, windowSeconds: 60 }, counters: memoryRateLimitCounters(), now: () => nextWindow(60_000) });
    const decisions = await Promise.all(Array.from({ length: 100 }, () => limiter.consume('k')));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(37);
  });

  test('hostile keys: the leases kept stay bounded, and a forgotten lease never grants a slot twice', async () => {
    const counters = memoryRateLimitCounters();
    const limiter = createRateLimiter({ name: 't', rule: { limit: 3, windowSeconds: 60 }, counters, maxKeys: 10, now: () => nextWindow(60_000) });
    expect(await admitted(limiter, 'victim', 3)).toBe(3);
    for (let i = 0; i < 100; i += 1) await limiter.consume(`junk-${i}-${'x'.repeat(1000)}`);
    // the victim's lease was evicted; the shared count still says 3
    expect((await limiter.consume('victim')).allowed).toBe(false);
  });
});

/** Two limiters on one shared store: two instances. */
async function twoInstancesHoldTheLimit(counters: () => SharedCounters) {
  const name = `t-${randomBytes(4).toString('hex')}`;
  const rule = { limit: 500, windowSeconds: 60 };
  const start = nextWindow(60_000) + 1;
  const now = () => start;
  const a = createRateLimiter({ name, rule, counters: counters(), now });
  const b = createRateLimiter({ name, rule, counters: counters(), now });
  let allowed = 0;
  // interleaved, with some concurrency at each
  for (let round = 0; round < 70; round += 1) {
    const decisions = await Promise.all([...Array.from({ length: 5 }, () => a.consume('k')), ...Array.from({ length: 5 }, () => b.consume('k'))]);
    allowed += decisions.filter((d) => d.allowed).length;
  }
  // never over the limit; short of it by at most what the two leases hold unused (a batch each)
  expect(allowed).toBeLessThanOrEqual(500);
  expect(allowed).toBeGreaterThanOrEqual(500 - 2 * 10);
  expect((await a.consume('k')).allowed).toBe(false);
  expect((await b.consume('k')).allowed).toBe(false);
}

const redisIsUp = await redisUp();
describeWithService('Redis', redisIsUp)('two instances on Redis counters', () => {
  const prefix = `tessera-test:rl:${randomBytes(4).toString('hex')}:`;
  let client: Redis;
  beforeAll(() => { client = new Redis(REDIS_URL); });
  afterAll(async () => {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length) await client.del(...keys);
    await client.quit();
  });

  test('the limit holds across both, exactly at most', async () => {
    await twoInstancesHoldTheLimit(() => redisRateLimitCounters(client, prefix));
  });

  test('a counter expires with its window and its name is a digest', async () => {
    const counters = redisRateLimitCounters(client, prefix);
    const total = await counters.add('tokenPerClient:1:a client id', 3, Date.now() + 5_000);
    expect(total).toBe(3);
    const keys = await client.keys(`${prefix}rl:*`);
    expect(keys.some((k) => k.includes('a client id'))).toBe(false);
    for (const key of keys) expect(await client.pttl(key)).toBeGreaterThan(0);
  });
});

const postgresIsUp = await postgresUp();
describeWithService('Postgres', postgresIsUp)('two instances on SQL counters', () => {
  let db: Database;
  const schema = `t_rl_${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    db = await createDatabase({ databaseUrl: POSTGRES_URL, schema });
    await migrateToLatest(db.knex);
  });
  afterAll(async () => {
    await db.knex.raw('drop schema if exists ?? cascade', [schema]);
    await db.close();
  });

  test('the limit holds across both, exactly at most', async () => {
    await twoInstancesHoldTheLimit(() => sqlRateLimitCounters(db.knex));
  });

  test('a counter whose window ended starts again', async () => {
    const counters = sqlRateLimitCounters(db.knex);
    expect(await counters.add('x', 5, Date.now() - 1)).toBe(5);
    expect(await counters.add('x', 2, Date.now() + 60_000)).toBe(2);
    expect(await counters.add('x', 2, Date.now() + 60_000)).toBe(4);
  });
});
