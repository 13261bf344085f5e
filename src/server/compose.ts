import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import { createDatabase, migrateToLatest, type Database } from '../db/index.ts';
import { loadOrCreateKeys, type KeyMaterial } from '../keys/index.ts';
import { createRedisTokenState, createRevocation, createSessionDirectory, createSqlTokenState, type Revocation, type SessionDirectory, type TokenState } from '../tokens/index.ts';
import { createRedisClient } from '../redis/index.ts';
import { createLogger, createMetrics, metricsEndpoint, METRICS_PATH, type Logger, type Metrics } from '../observability/index.ts';
import { createAccountRepository, createAttemptGuard, createCredentialVerifier, createPasswordHasher, type AttemptGuard } from '../accounts/index.ts';
import { createClientRepository, createResourceServerRepository, singleProcessChanges, sqlClientChanges, type ClientChangeLog } from '../clients/index.ts';
import { createAuditLog, createDeliveryWorker, createWebhookRepository, recordKeySetChange, type DeliveryWorker } from '../audit/index.ts';
import { createPasswordResets } from '../account/index.ts';
import { createMfaService, createPasskeyService, hasSecondFactor } from '../mfa/index.ts';
import { createClientRateLimits, createProvider, jwtEndpointsFastPath, providerRoutes, rejectWrongMethods } from '../provider/index.ts';
import { ADMIN_PREFIX, ensureAdminClient } from '../admin/index.ts';
import { believeTrustedProxies, clientCertificateSource, hasClientCertificateSource, withInputLimits, type NodeHandler } from '../http/index.ts';
import { servesTls } from './tls.ts';
import { createTesseraApp } from './app.ts';
import { claimedByRouters, frontDoor } from './front-door.ts';
import { warnAboutRiskyConfiguration } from './risky-configuration.ts';
import { createAddressRateLimits } from './rate-limits.ts';
import { createInitialAccessTokens, isRegistrationPath } from '../registration/index.ts';

/*
 * The composition root: the one place where Tessera is put together from its
 * configuration. Every store, service, the provider and both HTTP apps are
 * built here, in dependency order, and each module gets what it needs as
 * arguments (no module reaches for a singleton). Reading this file top to
 * bottom is reading the architecture (ARCHITECTURE.md tells the same story).
 */

export interface ComposeOptions {
  logger?: Logger;
  /** an already open database (tests); it is not closed by close() */
  db?: Database;
  /** PGlite in memory instead of DATA_DIR (tests) */
  inMemoryDatabase?: boolean;
  /** Postgres schema (tests sharing one server) */
  databaseSchema?: string;
  env?: NodeJS.ProcessEnv;
  /** true once shutdown has begun (start.ts): /readyz answers 503 */
  draining?: () => boolean;
}

export type Services = ReturnType<typeof createServices>;

/** Everything a running Tessera is made of, and how to take it apart again. */
export interface Tessera {
  readonly config: Config;
  readonly logger: Logger;
  readonly db: Database;
  readonly keys: KeyMaterial;
  readonly tokenState: TokenState & { purgeExpired?: () => Promise<number> };
  readonly services: Services;
  readonly provider: Provider;
  readonly revocation: Revocation;
  readonly sessions: SessionDirectory;
  /** sends queued webhook deliveries; started by start.ts (a composed Tessera that does not listen sends nothing) */
  readonly webhookDelivery: DeliveryWorker;
  /** Tessera's own routes: pages, admin API, health */
  readonly app: Koa;
  /** the whole HTTP surface, for http.createServer */
  readonly handler: NodeHandler;
  /** absent when config.metrics.enabled is false */
  readonly metrics?: Metrics;
  /** GET /metrics with its protection, for the listener on config.metrics.port (start.ts); absent when that port is not set */
  readonly metricsHandler?: NodeHandler;
  /** closes what compose opened, last opened first */
  close(): Promise<void>;
}

const CREATED_KEY_FILES = {
  'signing keys': 'signing keys (RS256, ES256)',
  secrets: 'secrets (cookie keys, CSRF and DPoP nonce secrets)',
  'webhook key': 'the key that seals webhook signing secrets',
  'mfa key': 'the key that seals TOTP secrets and keys recovery-code digests',
} as const;

const isAdminPath = (path: string) => {
  const lower = path.toLowerCase();
  return lower === ADMIN_PREFIX || lower.startsWith(`${ADMIN_PREFIX}/`);
};
const requestIdOf = (res: { getHeader(name: string): unknown }) => String(res.getHeader('X-Request-Id') ?? '') || undefined;

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

/** Sessions, grants, codes, tokens, the JTI denylist: Redis when configured, else the SQL database. */
function createTokenState(config: Config, db: Database, logger: Logger): Tessera['tokenState'] {
  // embedded PGlite has one process (its lock file): the only writer
  if (!hasRedis(config)) return createSqlTokenState(db.knex, { singleProcess: db.kind === 'pglite' });
  // the connection applies config.redis.keyPrefix to every key: no second prefix here
  const client = createRedisClient({ ...config.redis, onError: throttledWarning(logger, 'token state: redis connection error') });
  return createRedisTokenState(client);
}

/**
 * How client changes made by other processes are learnt: none can be with
 * embedded PGlite (one process owns it); Redis announces them when the token
 * state is there; otherwise each lookup reads the row's generation.
 */
function clientChangesOf(db: Database, tokenState: TokenState): ClientChangeLog {
  if (db.kind === 'pglite') return singleProcessChanges;
  return tokenState.clientChanges ?? sqlClientChanges(db.knex);
}

/** The repositories and domain services, built from their explicit dependencies. */
function createServices(deps: { config: Config; db: Database; keys: KeyMaterial; tokenState: TokenState; attemptGuard?: AttemptGuard; logger: Logger; metrics?: Metrics }) {
  const accounts = createAccountRepository(deps.db.knex);
  const clients = createClientRepository(deps.db.knex, { changes: clientChangesOf(deps.db, deps.tokenState) });
  const resources = createResourceServerRepository(deps.db.knex, { accessTokenTtl: deps.config.ttl.accessToken });
  const hasher = createPasswordHasher(deps.config.passwordHashing);
  // the webhook outbox: each event's deliveries are queued in the transaction that stores it
  const webhooks = createWebhookRepository(deps.db.knex, { key: deps.keys.webhookKey });
  // events on the request path (sign-ins, issued tokens) are written in batches: say when they cannot be
  // (a running total: the warning is throttled, the count must not be)
  const auditWriteFailed = throttledWarning(deps.logger, 'audit log: events could not be written (kept for a retry unless counted as lost)');
  let auditEventsLost = 0;
  const audit = createAuditLog(deps.db.knex, {
    afterRecorded: webhooks.queueDeliveries,
    observe: deps.metrics?.observeAuditEvent,
    onWriteError: (error, lost) => {
      auditEventsLost += lost;
      auditWriteFailed(new Error(`${error.message}; ${auditEventsLost} events lost since start`));
    },
  });
  // second factors: wrong codes count toward the same lockout as wrong passwords
  const mfa = createMfaService({ knex: deps.db.knex, mfaKey: deps.keys.mfaKey, accounts, guard: deps.attemptGuard, audit, issuer: deps.config.issuer });
  // the right password of an account with a second factor does not clear the failed attempts: its codes may have counted them
  const verifyCredentials = createCredentialVerifier({
    accounts, hasher, guard: deps.attemptGuard, audit,
    secondFactorFollows: async (accountId) => hasSecondFactor(await mfa.factorsOf(accountId)),
  });
  const passwordResets = createPasswordResets(deps.db.knex);
  const passkeys = createPasskeyService({ knex: deps.db.knex, issuer: deps.config.issuer, challenges: deps.tokenState.adapterFactory('WebAuthnChallenge'), audit, guard: deps.attemptGuard });
  // dynamic client registration's initial access tokens (digests only), issued through the admin API
  const initialAccessTokens = createInitialAccessTokens(deps.db.knex);
  return { accounts, clients, resources, hasher, verifyCredentials, audit, webhooks, passwordResets, mfa, passkeys, initialAccessTokens };
}

/** Builds Tessera from its configuration: stores, services, the provider, the HTTP surface. Does not listen. */
export async function composeTessera(config: Config, options: ComposeOptions = {}): Promise<Tessera> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  warnAboutRiskyConfiguration(config, logger);
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
  };
  try {
    // 1. durable records: accounts, clients, resource servers, audit log
    const db = options.db ?? await createDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      inMemory: options.inMemoryDatabase,
      schema: options.databaseSchema,
    });
    if (!options.db) cleanups.unshift(() => db.close());
    const applied = await migrateToLatest(db.knex);
    if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
    if (db.embedded) {
      logger.info({ path: db.embedded.path }, `${db.embedded.created ? 'created the embedded database (PGlite)' : 'embedded database (PGlite)'} in ${db.embedded.path}`);
    }

    // 2. key material shared by every instance
    const keys = await loadOrCreateKeys(config.keysDir, {
      // where, never what
      onCreated: ({ path, holds }) => logger.info({ path }, `generated ${CREATED_KEY_FILES[holds]} into ${path}`),
    });

    // 3. token state, and the brute-force counters beside it so every instance sees them
    // (metrics: one registry per Tessera, src/observability/metrics.ts; the token state's operations timed)
    const metrics = config.metrics.enabled ? createMetrics() : undefined;
    if (metrics) cleanups.unshift(async () => metrics.close());
    const unmeasuredTokenState = createTokenState(config, db, logger);
    const tokenState = metrics ? metrics.measureTokenState(unmeasuredTokenState) : unmeasuredTokenState;
    cleanups.unshift(() => tokenState.close());
    const attemptGuard = await createAttemptGuard({
      lockout: config.lockout,
      ...(hasRedis(config) ? { redis: config.redis, onRedisError: throttledWarning(logger, 'lockout store: redis connection error') } : { knex: db.knex }),
    });
    cleanups.unshift(() => attemptGuard.close());

    // 4. domain services, the protocol core around them, and revocation across both
    const services = createServices({ config, db, keys, tokenState, attemptGuard, logger, metrics });
    metrics?.watchHashing(services.hasher.load);
    // before the database closes (cleanups run last added first): what is enqueued is written
    cleanups.unshift(() => services.audit.close());
    await recordKeySetChange({ audit: services.audit, keys: keys.signingKeyList }).catch((error: Error) => {
      logger.warn({ err: error.message }, 'audit log: the change of the signing keys could not be recorded');
    });
    // mTLS: a client certificate from the handshake (direct TLS with a client CA) or from a trusted proxy's header; neither configured: off
    const certificateSources = { handshake: servesTls(config.tls) && !!config.tls.clientCaFile, header: config.tls?.clientCertificateHeader };
    const certificateOf = hasClientCertificateSource(certificateSources) ? clientCertificateSource(certificateSources) : undefined;
    // self_signed_tls_client_auth only: a handshake certificate that does not chain to the client CA
    const selfSignedCertificateOf = certificateOf ? clientCertificateSource(certificateSources, { unverified: true }) : undefined;
    const { provider, jwtAnswers } = createProvider({ config, keys, tokenState, logger, ...services, certificateOf, selfSignedCertificateOf });
    metrics?.watchProvider(provider);
    const revocation = createRevocation({ provider, tokenState });
    // outside every request path: a slow or dead receiver slows nothing but this worker
    const webhookDelivery = createDeliveryWorker({ repository: services.webhooks, config: config.webhooks, logger });
    services.webhooks.onQueued(() => webhookDelivery.nudge());
    cleanups.unshift(() => webhookDelivery.stop());
    // listing and ending sessions: revocation of their grants, logout tokens to their clients, the audit event
    const sessions = createSessionDirectory({ provider, tokenState, revocation, audit: services.audit, logger });

    // 5. the HTTP surface: Tessera's own app beside the provider, the front door choosing
    const providerCallback = provider.callback();
    const { app, routers } = createTesseraApp({ config, db, keys, tokenState, logger, provider, services, revocation, sessions, providerCallback, certificateOf, draining: options.draining });
    // rate limits: per address first (the address the trusted proxies report), then per named client
    const rateLimitStoreError = throttledWarning(logger, 'rate limits: shared counters unreachable; requests let through');
    const limitsOptions = { rules: config.rateLimits, counters: tokenState.rateLimitCounters, onStoreError: rateLimitStoreError };
    const perAddress = createAddressRateLimits(limitsOptions);
    const perClient = createClientRateLimits(limitsOptions);
    // /metrics on the main port, unless it has a port of its own (start.ts listens there)
    const metricsOnMainPort = metrics && config.metrics.port === undefined;
    const metricsHandler = metrics && metricsEndpoint({
      metrics,
      token: config.metrics.token,
      behindProxy: metricsOnMainPort ? config.proxy !== false : false,
      issuerHost: new URL(config.issuer).host,
    });
    const claimed = claimedByRouters(routers);
    const appCallback = app.callback();
    const tesseraCallback: NodeHandler = metricsOnMainPort
      ? (req, res) => (req.url === METRICS_PATH || req.url?.startsWith(`${METRICS_PATH}?`) ? metricsHandler!(req, res) : appCallback(req, res))
      : appCallback;
    const handler = believeTrustedProxies(config.proxy, frontDoor({
      logger,
      https: config.issuer.startsWith('https://'),
      isTesseraPath: metricsOnMainPort ? (path) => path === METRICS_PATH || claimed(path) : claimed,
      observeRequest: metrics?.observeRequest,
      // per-address rate limits first, then the input limits (src/http/input-limits.ts) before either app reads anything; the admin API reads its own JSON
      tessera: perAddress.guard(withInputLimits({
        limits: config.http,
        styleOf: (path) => (isAdminPath(path) ? 'problem' : isRegistrationPath(path) ? 'oauth' : 'page'),
        // the admin API and the registration endpoint read their own JSON, with their own limits
        bodyReadElsewhere: (path) => isAdminPath(path) || isRegistrationPath(path),
        requestIdOf,
      }, tesseraCallback)),
      // a wrong method on one of the provider's routes is a 405; then the per-client rate limits;
      // JWT introspection and revocation in the simple case, everything else the provider's
      provider: perAddress.guard(withInputLimits({ limits: config.http, styleOf: () => 'oauth', requestIdOf },
        rejectWrongMethods(providerRoutes(provider), perClient.guard(jwtEndpointsFastPath({ provider, answers: jwtAnswers, next: providerCallback }))))),
    }));

    // 6. the admin client, from the environment or KEYS_DIR
    await ensureAdminClient({ clients: services.clients, provider, keysDir: config.keysDir, env: options.env ?? process.env, audit: services.audit, logger });

    return {
      config, logger, db, keys, tokenState, services, provider, revocation, sessions, webhookDelivery, app, handler, close,
      metrics, metricsHandler: metricsOnMainPort ? undefined : metricsHandler,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
