import { Counter, Gauge, Registry } from 'prom-client';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { TokenState } from '../tokens/index.ts';
import { createRequestMetrics, type RequestObserver } from './hot-path-metrics.ts';
import { createStoreMetrics, measuredTokenState } from './store-metrics.ts';
import { registerProcessMetrics } from './process-metrics.ts';

/*
 * Tessera's Prometheus metrics (docs/operations.md, "Monitoring", lists each).
 * One registry per composed Tessera, never prom-client's global one: two
 * servers in one process (the tests start several) must not share or collide
 * on counters. Every label value is bounded: route templates, fixed reason and
 * channel names, grant types the provider has registered; nothing a client
 * sends becomes a label value unchecked.
 */

/** What an audit event tells the metrics: its type and details (src/audit/audit-log.ts `observe`). */
export interface ObservedAuditEvent {
  readonly type: string;
  readonly details?: Record<string, unknown>;
}

/** The password hasher's queue at this moment (src/accounts/password-hashing.ts). */
export interface HashingLoad {
  readonly running: number;
  readonly waiting: number;
  /** verifications refused since start because the queue was full */
  readonly refused: number;
}

export interface Metrics {
  readonly registry: Registry;
  /** called by the front door once per response */
  readonly observeRequest: RequestObserver;
  /** called by the audit log for every event it is given */
  observeAuditEvent(event: ObservedAuditEvent): void;
  /** counts tokens issued, from the provider's grant.success */
  watchProvider(provider: Provider): void;
  /** reads the hashing queue at each scrape */
  watchHashing(load: () => HashingLoad): void;
  /** the token state with its operations timed */
  measureTokenState<T extends TokenState>(tokenState: T): T;
  /** the exposition: Prometheus text format */
  scrape(): Promise<{ contentType: string; body: string }>;
  /** stops the event-loop lag sampler */
  close(): void;
}

/** signin.failed reasons (src/accounts/service.ts SignInFailure); a second factor's failure is "second_factor". */
const SIGN_IN_FAILURE_REASONS = new Set(['invalid_credentials', 'unknown_account', 'disabled', 'no_password', 'locked']);
/** where a sign-in happens (details.via of the sign-in events) */
const SIGN_IN_CHANNELS = new Set(['login_page', 'password_grant', 'account']);

const bounded = (value: unknown, allowed: Set<string>) => (typeof value === 'string' && allowed.has(value) ? value : 'other');

export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  // process CPU and memory, and the event loop's lag (process-metrics.ts)
  const stopProcessMetrics = options.processMetrics !== false ? registerProcessMetrics(registry) : () => {};

  const observeRequest = createRequestMetrics(registry);

  const tokensIssued = new Counter({
    name: 'tessera_tokens_issued_total',
    help: 'Successful token endpoint responses, by grant type (one response can carry an access, refresh and ID token)',
    labelNames: ['grant_type'] as const,
    registers: [registry],
  });
  const signInFailures = new Counter({
    name: 'tessera_signin_failures_total',
    help: 'Failed sign-in attempts, by reason (second_factor: a wrong TOTP or recovery code, or a passkey that did not verify) and channel',
    labelNames: ['reason', 'via'] as const,
    registers: [registry],
  });
  const lockouts = new Counter({
    name: 'tessera_account_lockouts_total',
    help: 'Accounts locked after too many failed sign-ins, by channel',
    labelNames: ['via'] as const,
    registers: [registry],
  });
  // at zero from the start, so that rate() and increase() see the first one
  for (const reason of [...SIGN_IN_FAILURE_REASONS, 'second_factor']) signInFailures.labels(reason, 'login_page').inc(0);
  lockouts.labels('login_page').inc(0);

  let hashingLoad: (() => HashingLoad) | undefined;
  new Gauge({
    name: 'tessera_password_hashing_queue_depth',
    help: 'Password verifications and hashes waiting for a hashing slot',
    registers: [registry],
    collect() { this.set(hashingLoad?.().waiting ?? 0); },
  });
  new Gauge({
    name: 'tessera_password_hashing_running',
    help: 'Password verifications and hashes running now (at most the effective concurrency)',
    registers: [registry],
    collect() { this.set(hashingLoad?.().running ?? 0); },
  });
  new Counter({
    name: 'tessera_password_hashing_refused_total',
    help: 'Password verifications refused with 503 because the hashing queue was full',
    registers: [registry],
    collect() {
      // a running total kept by the hasher: set, as a gauge would be, by moving the counter up to it
      const refused = hashingLoad?.().refused ?? 0;
      this.reset();
      this.inc(refused);
    },
  });

  const timeStore = new Map<string, ReturnType<typeof createStoreMetrics>>();

  return {
    registry,
    observeRequest,
    observeAuditEvent(event) {
      switch (event.type) {
        case 'signin.failed':
          signInFailures.labels(bounded(event.details?.reason, SIGN_IN_FAILURE_REASONS), bounded(event.details?.via, SIGN_IN_CHANNELS)).inc();
          break;
        case 'signin.second_factor_failed':
          signInFailures.labels('second_factor', bounded(event.details?.via, SIGN_IN_CHANNELS)).inc();
          break;
        case 'account.locked':
          lockouts.labels(bounded(event.details?.via, SIGN_IN_CHANNELS)).inc();
          break;
        default:
      }
    },
    watchProvider(provider) {
      // grant.success is emitted for grant types the provider has registered only: a bounded set
      provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
        const grantType = ctx.oidc?.params?.grant_type;
        tokensIssued.labels(typeof grantType === 'string' ? grantType : 'other').inc();
      });
    },
    watchHashing(load) {
      hashingLoad = load;
    },
    measureTokenState(tokenState) {
      let time = timeStore.get(tokenState.kind);
      if (!time) {
        time = createStoreMetrics(registry, tokenState.kind);
        timeStore.set(tokenState.kind, time);
      }
      return measuredTokenState(tokenState, time);
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
    close: stopProcessMetrics,
  };
}
