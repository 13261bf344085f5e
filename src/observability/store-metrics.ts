import { Counter, Histogram, type Registry } from 'prom-client';
import type { Adapter } from 'oidc-provider';
import type { AdapterFactory, TokenState } from '../tokens/index.ts';

/** Seconds: a Redis round trip on loopback (~0.1 ms) to a slow SQL statement. */
export const STORE_DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5];

/** Runs one store operation, measuring it. */
export type StoreTimer = <T>(operation: string, work: () => Promise<T>) => Promise<T>;

/**
 * Latency and errors of the token state (Redis or SQL), by operation. The
 * operation is a fixed name (the adapter method, or the denylist's), never a
 * key or a model id: the label values are bounded.
 */
export function createStoreMetrics(registry: Registry, store: TokenState['kind']): StoreTimer {
  const durations = new Histogram({
    name: 'tessera_token_state_operation_duration_seconds',
    help: 'Duration of token state operations (sessions, grants, codes, tokens, the JWT denylist), by store and operation, failed ones included',
    labelNames: ['store', 'operation'] as const,
    buckets: STORE_DURATION_BUCKETS,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'tessera_token_state_errors_total',
    help: 'Token state operations that failed (store unreachable, timed out, refused), by store and operation',
    labelNames: ['store', 'operation'] as const,
    registers: [registry],
  });
  const children = new Map<string, { observe(value: number): void; inc(): void }>();
  const childrenOf = (operation: string) => {
    let child = children.get(operation);
    if (!child) {
      const histogram = durations.labels(store, operation);
      const counter = errors.labels(store, operation);
      // created at zero: an alert on rate() sees the first error
      counter.inc(0);
      child = { observe: (value) => histogram.observe(value), inc: () => counter.inc() };
      children.set(operation, child);
    }
    return child;
  };

  return async (operation, work) => {
    const child = childrenOf(operation);
    const started = performance.now();
    try {
      return await work();
    } catch (error) {
      child.inc();
      throw error;
    } finally {
      child.observe((performance.now() - started) / 1000);
    }
  };
}

/** The adapter methods oidc-provider calls; each is timed under its own name. */
const ADAPTER_METHODS = ['upsert', 'find', 'findByUserCode', 'findByUid', 'consume', 'destroy', 'revokeByGrantId'] as const;

function timedAdapter(adapter: Adapter, time: StoreTimer): Adapter {
  const timed = Object.create(adapter) as Record<string, unknown>;
  for (const method of ADAPTER_METHODS) {
    const original = (adapter as unknown as Record<string, unknown>)[method];
    if (typeof original !== 'function') continue;
    timed[method] = (...args: unknown[]) => time(method, () => (original as (...a: unknown[]) => Promise<unknown>).apply(adapter, args));
  }
  return timed as unknown as Adapter;
}

/**
 * The token state with its hot-path operations measured: the provider's
 * adapters (every token issued, introspected, revoked) and the JWT denylist
 * (every JWT introspection). The rest (admin listings, session metadata) is
 * passed through unmeasured. One wrapper per model, as the factory itself keeps.
 */
export function measuredTokenState<T extends TokenState>(tokenState: T, time: StoreTimer): T {
  const adapters = new Map<string, Adapter>();
  const adapterFactory: AdapterFactory = (model) => {
    let adapter = adapters.get(model);
    if (!adapter) {
      adapter = timedAdapter(tokenState.adapterFactory(model), time);
      adapters.set(model, adapter);
    }
    return adapter;
  };
  const denylist: TokenState['denylist'] = {
    add: (jti, expiresAt) => time('denylist.add', () => tokenState.denylist.add(jti, expiresAt)),
    has: (jti) => time('denylist.has', () => tokenState.denylist.has(jti)),
  };
  return { ...tokenState, adapterFactory, denylist };
}
