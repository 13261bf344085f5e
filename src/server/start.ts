import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import { createDatabase, migrateToLatest, type Database } from '../db/index.ts';
import { loadOrCreateKeys } from '../keys/index.ts';
import { createSqlTokenState, type Revocation, type TokenState } from '../tokens/index.ts';
import { createRedisClient } from '../redis/index.ts';
import { createRedisTokenState } from '../tokens/redis-token-state.ts';
import { createLogger, type Logger } from '../observability/index.ts';
import { ensureAdminClient } from '../admin/index.ts';
import { createApp, type Services } from './app.ts';
import { createAttemptGuard } from '../accounts/lockout.ts';
import { lowerThreadPoolPriority } from './thread-priority.ts';
import { warnAboutRiskyConfiguration } from './risky-configuration.ts';

const PURGE_INTERVAL_MS = 10 * 60 * 1000;

export interface RunningServer {
  readonly url: string;
  readonly app: Koa;
  readonly provider: Provider;
  readonly services: Services;
  readonly revocation: Revocation;
  readonly db: Database;
  readonly tokenState: TokenState;
  readonly server: Server;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** an already open database (tests); it is not closed by close() */
  db?: Database;
  /** PGlite in memory instead of DATA_DIR (tests) */
  inMemoryDatabase?: boolean;
  /** Postgres schema (tests sharing one server) */
  databaseSchema?: string;
  env?: NodeJS.ProcessEnv;
}

const hasRedis = (config: Config) => !!(config.redis.url || config.redis.sentinel || config.redis.cluster);

/** At most one log line per interval: a Redis outage reports an error per reconnect attempt. */
function throttledWarning(logger: Logger, message: string, intervalMs = 10_000) {
  let last = 0;
  return (error: Error) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    logger.warn({ err: error.message }, message);
  };
}

function createTokenState(config: Config, db: Database, logger: Logger): TokenState & { purgeExpired?: () => Promise<number> } {
  // embedded PGlite has one process (its lock file): the only writer
  if (!hasRedis(config)) return createSqlTokenState(db.knex, { singleProcess: db.kind === 'pglite' });
  // the connection applies config.redis.keyPrefix to every key: no second prefix here
  const client = createRedisClient({ ...config.redis, onError: throttledWarning(logger, 'token state: redis connection error') });
  return createRedisTokenState(client);
}

/** Opens the stores, applies migrations, builds the app and listens. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  warnAboutRiskyConfiguration(config, logger);
  const ownsDb = !options.db;
  const db = options.db ?? await createDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    inMemory: options.inMemoryDatabase,
    schema: options.databaseSchema,
  });
  const cleanups: Array<() => Promise<unknown>> = [];
  if (ownsDb) cleanups.push(() => db.close());
  try {
    const applied = await migrateToLatest(db.knex);
    if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
    if (db.embedded) {
      logger.info({ path: db.embedded.path }, `${db.embedded.created ? 'created the embedded database (PGlite)' : 'embedded database (PGlite)'} in ${db.embedded.path}`);
    }
    const keys = await loadOrCreateKeys(config.keysDir, {
      // where, never what
      onCreated: ({ path, holds }) => logger.info({ path }, `generated ${holds === 'signing keys' ? 'signing keys (RS256, ES256)' : 'secrets (cookie keys, CSRF and DPoP nonce secrets)'} into ${path}`),
    });
    const tokenState = createTokenState(config, db, logger);
    cleanups.unshift(() => tokenState.close());
    // brute-force counters live with the token state, so every instance sees them
    const attemptGuard = await createAttemptGuard({
      lockout: config.lockout,
      ...(hasRedis(config) ? { redis: config.redis, onRedisError: throttledWarning(logger, 'lockout store: redis connection error') } : { knex: db.knex }),
    });
    cleanups.unshift(() => attemptGuard.close());

    const { app, handler, provider, services, revocation } = createApp({ config, db, tokenState, keys, logger, attemptGuard });
    await ensureAdminClient({ clients: services.clients, provider, keysDir: config.keysDir, env: options.env ?? process.env, audit: services.audit, logger });

    const reniced = await lowerThreadPoolPriority();
    logger.debug({ threads: reniced }, 'thread pool (password hashing) runs at a lower priority than the event loop');

    const server = createServer(handler);
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    cleanups.unshift(() => new Promise((resolve) => {
      server.close(resolve);
      server.closeIdleConnections();
    }));

    const purge = tokenState.purgeExpired;
    if (purge) {
      const timer = setInterval(() => { purge().catch((err) => logger.warn({ err: err.message }, 'purge of expired token state failed')); }, PURGE_INTERVAL_MS);
      timer.unref();
      cleanups.unshift(async () => clearInterval(timer));
    }

    const { port } = server.address() as AddressInfo;
    const url = `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
    logger.info({ url, issuer: config.issuer, database: db.kind, tokenState: tokenState.kind }, 'Tessera is listening');

    let closing: Promise<void> | undefined;
    return {
      url, app, provider, services, revocation, db, tokenState, server,
      close: () => {
        closing ??= (async () => {
          for (const cleanup of cleanups) await cleanup().catch(() => {});
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const cleanup of cleanups) await cleanup().catch(() => {});
    throw error;
  }
}
