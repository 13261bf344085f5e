import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/index.ts';
import { redisTlsOptions } from './tls.ts';

/** The `redis` configuration, plus how connection errors are reported. */
export type RedisConnectionOptions = RedisConfig & {
  /**
   * Connection errors (refused, reset, timeouts) while ioredis reconnects.
   * Without a listener ioredis would print every one of them to the console as
   * an "Unhandled error event", several a second for as long as Redis is down;
   * by default they are dropped: each request that needed Redis fails with the
   * error (503 + Retry-After, logged), and /readyz reports the outage.
   */
  onError?: (error: Error) => void;
};

const ignoreConnectionError = () => {};

// Reconnect forever with a capped backoff: the process must recover by itself
// when Redis comes back, never give up and stay broken until a restart.
const reconnectDelay = (attempt: number): number => Math.min(100 * attempt, 2000);

// Shared by single node, Sentinel and every Cluster node. A request must fail
// fast (and become a 503) while Redis is down instead of hanging: commands
// queued while disconnected are rejected after one failed reconnect attempt
// (maxRetriesPerRequest), a dead host is given up on after connectTimeout, and
// a server that accepts but never answers after commandTimeout.
const failFast = {
  maxRetriesPerRequest: 1,
  connectTimeout: 3000,
  commandTimeout: 5000,
} satisfies RedisOptions;

/*
 * While the whole cluster is unreachable, ioredis parks commands in the
 * Cluster's own offline queue with no limit in time or size (maxRetriesPerRequest
 * only governs single-node connections): requests would hang and memory grow for
 * as long as the outage lasts. So every failed reconnection fails the queued
 * commands, as a single node does after maxRetriesPerRequest. flushQueue is
 * private in ioredis's types, hence the guarded cast; test/tokens/redis-cluster
 * checks that a command still fails fast when every node is down.
 */
function failQueuedAndRetry(this: unknown, attempt: number): number {
  const cluster = this as { flushQueue?: (error: Error) => void };
  cluster.flushQueue?.(new Error('Redis cluster is unreachable'));
  return reconnectDelay(attempt);
}

/** Redis for the token state: single node (URL), Sentinel or Cluster. */
export function createRedisClient(options: RedisConnectionOptions): Redis | Cluster {
  const { keyPrefix } = options;
  const onError = options.onError ?? ignoreConnectionError;

  if (options.cluster) {
    const { nodes, password } = options.cluster;
    const tls = redisTlsOptions(options.cluster.tls, 'redis.cluster.tls');
    const clusterOptions: ClusterOptions = {
      keyPrefix,
      // Every command touches one key, so each is routed to its own slot's
      // master; auto-pipelining batches them per node.
      enableAutoPipelining: true,
      clusterRetryStrategy: failQueuedAndRetry,
      redisOptions: { ...failFast, password, ...(tls && { tls }) },
      // ioredis resolves configured host names to addresses before connecting,
      // and would then check each certificate against an address; kept as
      // given, a host name is what the certificate is checked against.
      ...(tls && { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) }),
    };
    const cluster = new Cluster(nodes, clusterOptions);
    cluster.on('error', onError);
    cluster.on('node error', onError);
    return cluster;
  }

  const common: RedisOptions = {
    ...failFast,
    keyPrefix,
    enableAutoPipelining: true,
    retryStrategy: reconnectDelay,
  };

  let client: Redis;
  if (options.sentinel) {
    const { name, sentinels, password } = options.sentinel;
    const tls = redisTlsOptions(options.sentinel.tls, 'redis.sentinel.tls');
    // One password for the master and the sentinels; ioredis tolerates AUTH
    // being refused by a sentinel that has no password configured.
    client = new Redis({
      ...common, name, sentinels, password, sentinelPassword: password,
      // sentinelTLS for the sentinels; tls reaches the master only with
      // enableTLSForSentinelMode (without it ioredis connects to it in clear)
      ...(tls && { sentinelTLS: tls, tls, enableTLSForSentinelMode: true }),
    });
  } else if (options.url) {
    // Checked here with a message that never echoes the URL: it may hold a password.
    if (!/^rediss?:\/\//i.test(options.url)) {
      throw new Error('Redis URL must start with redis:// or rediss://');
    }
    // ioredis parses user, password, db and query options, and turns on TLS for rediss://.
    client = new Redis(options.url, common);
  } else {
    throw new Error('Redis connection needs a url, a sentinel or a cluster');
  }
  client.on('error', onError);
  return client;
}

/** Closes a connection: QUIT when Redis answers, otherwise (Redis down) just drops the socket. */
export async function closeRedisClient(client: Redis | Cluster): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
