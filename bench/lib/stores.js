// The Postgres and Redis a benchmark target runs on: reachability probes, a database of its
// own (created and dropped), its Redis keys (a prefix of its own: counted, sampled, deleted).
// Never touches anything outside that database and that prefix.
import pg from 'pg';
import { Redis } from 'ioredis';
import { deleteUnder, scanUnder } from '../../test/support/redis-keys.ts';
import { median } from './load.js';

const PROBE_TIMEOUT_MS = 1500;

/** true, or why Postgres at `url` cannot be used. */
export async function probePostgres(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch (err) {
    return err.message || String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

function redisClient(url) {
  return new Redis(url, {
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
}

/** true, or why Redis at `url` cannot be used. */
export async function probeRedis(url) {
  const client = redisClient(url);
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch (err) {
    return err.message || String(err);
  } finally {
    client.disconnect();
  }
}

const quoteIdent = (name) => `"${name.replace(/"/g, '""')}"`;

/**
 * Creates database `name` on the server of `adminUrl` (a database the bench may connect to);
 * resolves to its URL and a drop() that removes it again (terminating leftover connections).
 */
export async function createBenchDatabase(adminUrl, name) {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unsafe database name ${name}`);
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`create database ${quoteIdent(name)}`);
  } finally {
    await admin.end().catch(() => {});
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
      await c.connect();
      try {
        await c.query(`drop database if exists ${quoteIdent(name)} with (force)`);
      } finally {
        await c.end().catch(() => {});
      }
    },
  };
}

/** Deletes every key under `prefix` (SCAN + UNLINK, never FLUSH*); resolves to how many. */
export async function deleteRedisKeys(url, prefix) {
  if (!prefix) throw new Error('refusing to delete Redis keys without a prefix');
  const client = redisClient(url);
  client.on('error', () => {});
  await client.connect();
  try {
    return await deleteUnder(client, prefix);
  } finally {
    client.disconnect();
  }
}

/**
 * `MEMORY USAGE` (bytes, SAMPLES 0 = exact) of up to `samples` keys per kind under
 * `prefix`. `kinds` maps a name to a key pattern after the prefix (e.g. "tessera:Session:*")
 * and optionally a filter on the key's rest (to leave out secondary indexes). Also counts
 * every key under the prefix and the server's used_memory.
 */
export async function redisMemoryUsage(url, prefix, kinds, { samples = 50 } = {}) {
  const client = redisClient(url);
  client.on('error', () => {});
  await client.connect();
  try {
    const out = { prefix, kinds: {} };
    for (const [kind, { pattern, exclude }] of Object.entries(kinds)) {
      const picked = [];
      let seen = 0;
      for await (const keys of scanUnder(client, prefix, pattern)) {
        for (const key of keys) {
          if (exclude && exclude.test(key.slice(prefix.length))) continue;
          seen += 1;
          if (picked.length < samples) picked.push(key);
        }
      }
      const bytes = [];
      for (const key of picked) {
        const b = await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
        if (Number.isFinite(Number(b))) bytes.push(Number(b));
      }
      out.kinds[kind] = {
        keys: seen,
        sampled: bytes.length,
        bytesMedian: median(bytes) ?? null,
        bytesMin: bytes.length ? Math.min(...bytes) : null,
        bytesMax: bytes.length ? Math.max(...bytes) : null,
      };
    }
    let total = 0;
    for await (const keys of scanUnder(client, prefix)) total += keys.length;
    out.totalKeys = total;
    return out;
  } finally {
    client.disconnect();
  }
}
