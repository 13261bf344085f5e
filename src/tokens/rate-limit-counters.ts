import type { Knex } from 'knex';
import type { Cluster, Redis } from 'ioredis';
import { tokenDigest } from '../crypto/index.ts';

/**
 * Counters the rate limits of every instance share (src/http/rate-limiter.ts).
 * A counter is named by the limit, the key it counts (a client, an address)
 * and the window; it lives until its window ends, then is forgotten.
 */
export interface RateLimitCounters {
  /** Adds `amount` to the counter `name`, which expires at `expiresAtMs` (epoch ms); the total after adding. */
  add(name: string, amount: number, expiresAtMs: number): Promise<number>;
}

/**
 * Counter names as stored: the key part is a digest, so that what a client
 * sends as its client_id (any length, any bytes) is never a key in the store.
 */
export const storedCounterName = (name: string): string => tokenDigest(name);

// INCRBY and the expiry in one step: a counter never outlives its window, even when the process dies between them
const ADD_SCRIPT = `
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return total`;

type Client = Redis | Cluster;

/** In Redis, under `<prefix>rl:` (the connection's keyPrefix comes on top). */
export function redisRateLimitCounters(client: Client, prefix = 'tessera:'): RateLimitCounters {
  client.defineCommand('tesseraRateLimitAdd', { numberOfKeys: 1, lua: ADD_SCRIPT });
  const add = (client as unknown as Record<string, (key: string, amount: number, at: number) => Promise<number>>).tesseraRateLimitAdd.bind(client);
  return {
    async add(name, amount, expiresAtMs) {
      return Number(await add(`${prefix}rl:${storedCounterName(name)}`, amount, Math.ceil(expiresAtMs)));
    },
  };
}

/**
 * In the SQL database (Postgres without Redis): one row per counter, added to
 * with an upsert, so instances sharing the database share the count. A row
 * whose window has ended is started again; purgeSqlRateLimitCounters removes them.
 */
export function sqlRateLimitCounters(knex: Knex): RateLimitCounters {
  return {
    async add(name, amount, expiresAtMs) {
      const result = await knex.raw<{ rows: Array<{ total: string | number }> }>(
        `insert into rate_limit_counters (name, total, expires_at) values (?, ?, ?)
         on conflict (name) do update set
           total = case when rate_limit_counters.expires_at <= ? then excluded.total else rate_limit_counters.total + excluded.total end,
           expires_at = excluded.expires_at
         returning total`,
        [storedCounterName(name), amount, Math.ceil(expiresAtMs), Date.now()],
      );
      return Number(result.rows[0].total);
    },
  };
}

export async function purgeSqlRateLimitCounters(knex: Knex): Promise<number> {
  const removed = await knex('rate_limit_counters').where('expires_at', '<=', Date.now()).delete();
  return typeof removed === 'number' ? removed : 0;
}

/**
 * In this process's memory: for embedded PGlite, which one process owns (its
 * lock file), so no other instance could share the count; an upsert per batch
 * would only cost time. Expired counters are dropped as new ones come.
 */
export function memoryRateLimitCounters(options: { maxCounters?: number } = {}): RateLimitCounters {
  const maxCounters = options.maxCounters ?? 100_000;
  const counters = new Map<string, { total: number; expiresAtMs: number }>();
  // the oldest go first (insertion order): expired ones, then, when hostile keys fill the map
  // with live ones, live ones (the leases keep what they hold); O(1) per new counter
  const sweep = (now: number) => {
    for (const [name, counter] of counters) {
      if (counters.size < maxCounters && counter.expiresAtMs > now) break;
      counters.delete(name);
    }
  };
  return {
    async add(name, amount, expiresAtMs) {
      const now = Date.now();
      let counter = counters.get(name);
      if (!counter || counter.expiresAtMs <= now) {
        counters.delete(name);
        sweep(now);
        counter = { total: 0, expiresAtMs };
        counters.set(name, counter);
      }
      counter.total += amount;
      return counter.total;
    },
  };
}
