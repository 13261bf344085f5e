import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { startServer, type RunningServer } from '../../src/server/index.ts';
import { createLogger } from '../../src/observability/index.ts';
import { clientMetadataValidator } from '../../src/provider/index.ts';
import type { NewClient } from '../../src/clients/index.ts';
import { createDatabase } from '../../src/db/index.ts';
import { POSTGRES_URL, REDIS_URL } from './local-services.ts';
import { freePort } from './process.ts';
import { deleteUnder } from './redis-keys.ts';

export interface TestServerOptions {
  /** 'memory' (default): PGlite in memory; 'file': PGlite under a temp DATA_DIR; 'postgres': the machine's Postgres in a fresh schema */
  database?: 'memory' | 'file' | 'postgres';
  /** token state in the machine's Redis (random key prefix) instead of SQL */
  redis?: boolean;
  /** with redis: this key prefix instead of a random one; servers given the same one share token state and lockout counters (stop() removes its keys) */
  redisKeyPrefix?: string;
  /** reuse a directory (keys, data) from an earlier server: restarts */
  dir?: string;
  /** reuse a Postgres schema from an earlier server */
  schema?: string;
  /** listen on this port (default: a free one); a restart on the same port keeps the issuer */
  port?: number;
  /** extra configuration */
  config?: Record<string, unknown>;
  /** where logs go (default: nowhere) */
  logDestination?: { write(line: string): void };
  logLevel?: string;
  /** the issuer's host (default 127.0.0.1); 'localhost' for WebAuthn, which refuses IP addresses */
  issuerHost?: '127.0.0.1' | 'localhost';
  /** serve https with these files (config `tls`); the issuer becomes https:// */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string; clientCertificateHeader?: string };
  /** install the process-wide SIGHUP handler (default: not) */
  handleSighup?: boolean;
}

export interface TestServer extends RunningServer {
  readonly issuer: string;
  readonly dir: string;
  readonly schema?: string;
  readonly config: Config;
  /** creates a client through the repository; returns id and secret */
  createClient(input: NewClient): Promise<{ clientId: string; clientSecret?: string }>;
  createUser(input: { username: string; password: string; email?: string; roles?: string[] }): Promise<{ id: string }>;
  /** stops the server; removes its temp dir and schema unless keep is set */
  stop(options?: { keep?: boolean }): Promise<void>;
}

/** Fast argon2 parameters for tests that do not measure hashing. */
export const FAST_HASHING = { memoryCost: 8192, timeCost: 1, parallelism: 1 };

/** Per-address rate limits that the tests, all from 127.0.0.1, never reach. */
export const HIGH_ADDRESS_LIMITS = {
  tokenPerIp: { limit: 1_000_000, windowSeconds: 60 },
  authorizationPerIp: { limit: 1_000_000, windowSeconds: 60 },
  pagesPerIp: { limit: 1_000_000, windowSeconds: 60 },
  deviceCodePerIp: { limit: 1_000_000, windowSeconds: 60 },
  registrationPerIp: { limit: 1_000_000, windowSeconds: 60 },
};

/** Starts a real Tessera on 127.0.0.1 with a random port. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tessera-test-'));
  const database = options.database ?? 'memory';
  const schema = database === 'postgres' ? (options.schema ?? `t_${randomBytes(6).toString('hex')}`) : undefined;

  // the port must be known before the issuer: reserve one by listening first
  const port = options.port ?? await freePort();
  const issuer = `${options.tls ? 'https' : 'http'}://${options.issuerHost ?? '127.0.0.1'}:${port}`;
  const config = loadConfig({}, {
    port,
    host: '127.0.0.1',
    issuer,
    dataDir: join(dir, 'data'),
    keysDir: join(dir, 'keys'),
    logLevel: options.logLevel ?? (options.logDestination ? 'info' : 'silent'),
    passwordHashing: FAST_HASHING,
    ...(database === 'postgres' ? { databaseUrl: POSTGRES_URL } : {}),
    ...(options.redis ? { redis: { url: REDIS_URL, keyPrefix: options.redisKeyPrefix ?? `tessera-test:${randomBytes(6).toString('hex')}:` } } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...options.config,
    // every test client comes from one address: its per-address limits must not throttle the suite (a test may set its own)
    rateLimits: { ...HIGH_ADDRESS_LIMITS, ...(options.config?.rateLimits as object | undefined) },
  });
  const logger = createLogger({ level: config.logLevel, destination: options.logDestination as never });
  const running = await startServer(config, {
    logger,
    inMemoryDatabase: database === 'memory',
    databaseSchema: schema,
    env: {},
    handleSighup: options.handleSighup ?? false,
  });

  return {
    ...running,
    issuer,
    dir,
    schema,
    config,
    async createClient(input) {
      const { client, clientSecret } = await running.services.clients.create(input, clientMetadataValidator(running.provider as never));
      return { clientId: client.clientId, clientSecret };
    },
    async createUser(input) {
      const passwordHash = await running.services.hasher.hash(input.password);
      const account = await running.services.accounts.create({ username: input.username, email: input.email, roles: input.roles, passwordHash });
      return { id: account.id };
    },
    async stop(stopOptions = {}) {
      await running.close();
      if (stopOptions.keep) return;
      if (schema) {
        const db = await createDatabase({ databaseUrl: POSTGRES_URL });
        await db.knex.raw('drop schema if exists ?? cascade', [schema]).finally(() => db.close());
      }
      if (options.redis && config.redis.keyPrefix) await deleteRedisKeys(config.redis.keyPrefix);
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Two instances of one deployment: one Postgres schema, one KEYS_DIR, one issuer and, with Redis, one key prefix. */
export interface TwoInstances {
  readonly a: TestServer;
  readonly b: TestServer;
  /** the Redis key prefix both use (with `redis`) */
  readonly redisKeyPrefix?: string;
  /** stops both; removes the schema, the Redis keys and the directory they shared */
  stop(): Promise<void>;
}

/** Starts A, then B with A's issuer, on what they share; `config` applies to both. */
export async function startTwoInstances(options: { redis: boolean; config?: Record<string, unknown> }): Promise<TwoInstances> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-two-instances-'));
  const redisKeyPrefix = options.redis ? `tessera-test:pair:${randomBytes(6).toString('hex')}:` : undefined;
  const shared = {
    dir, database: 'postgres' as const, schema: `t_pair_${randomBytes(6).toString('hex')}`,
    ...(redisKeyPrefix ? { redis: true, redisKeyPrefix } : {}),
  };
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  let a: TestServer | undefined;
  try {
    a = await startTestServer({ ...shared, config: options.config });
    // One deployment has one issuer, whichever instance answers.
    const b = await startTestServer({ ...shared, config: { ...options.config, issuer: a.issuer } });
    const first = a;
    return {
      a: first, b, redisKeyPrefix,
      async stop() {
        // The schema and the Redis keys are shared: only the last one out removes them.
        await first.stop({ keep: true });
        await b.stop();
        removeDir();
      },
    };
  } catch (error) {
    await a?.stop();
    removeDir();
    throw error;
  }
}

/** Removes what a test server left in the machine's Redis under its random prefix. */
async function deleteRedisKeys(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await deleteUnder(redis, prefix);
  } catch {
    // Redis gone: nothing to clean
  } finally {
    redis.disconnect();
  }
}
