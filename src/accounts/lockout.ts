import { isIPv4, isIPv6 } from 'node:net';
import type { Knex } from 'knex';
import { RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterStoreAbstract } from 'rate-limiter-flexible';
import type { LockoutConfig } from '../config/index.ts';
import { closeRedisClient, createRedisClient, type RedisConnectionOptions } from '../redis/index.ts';
import { tokenDigest } from '../crypto/index.ts';
import type { AttemptGuard } from './service.ts';
import { canonicalUsername } from './username.ts';

/*
 * Brute-force protection for every password check (login page and password
 * grant), kept in the token state so that all instances share it:
 *
 *   attempts:<account>  attempts on an account since its last success: failed
 *                       ones and those whose password is still being checked
 *   fail:<account>      consecutive failures of an account (reset by a success)
 *   lock:<account>      while it exists the account refuses attempts; at the
 *                       threshold it also admits exactly one attempt at a time
 *   ip:<network>        failed attempts per minute from an IP (IPv6: its /64)
 *   ipuser:<net,user>   failed attempts per minute of one username from one IP
 *
 * Attempts are counted when they start (beforeAttempt) and given back when
 * they turn out to be a success, so attempts running at the same time cannot
 * slip past a limit while their passwords are being hashed. Keys are digests:
 * the store holds no usernames or addresses.
 */

/** Rows of the SQL store (RateLimiterPostgres' own layout). */
export const LOCKOUT_TABLE = 'login_attempts';

const MINUTE = 60;
const DAY = 24 * 60 * 60;

export type ClosableAttemptGuard = AttemptGuard & { close(): Promise<void> };

export interface AttemptGuardOptions {
  lockout: LockoutConfig;
  /** Redis (when the token state is Redis); the guard opens and closes its own connection */
  redis?: RedisConnectionOptions;
  /** the SQL database, used when `redis` is not given */
  knex?: Knex;
  /** prefix of the guard's Redis keys, after the connection's own keyPrefix (default "tessera:") */
  keyPrefix?: string;
  /** connection errors of the Redis client while it reconnects */
  onRedisError?: (error: Error) => void;
}

/**
 * The network an address stands for: IPv4 as it is (IPv4-mapped IPv6 too), IPv6
 * as its /64, which a single host or customer usually owns whole.
 */
export function networkOf(ip: string): string {
  const bare = ip.split('%')[0];
  if (bare.toLowerCase().startsWith('::ffff:') && isIPv4(bare.slice(7))) return bare.slice(7);
  if (!isIPv6(bare)) return bare;
  const [head, tail] = bare.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined
    ? headGroups
    : [...headGroups, ...Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'), ...tailGroups];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/** Seconds to wait, from a limiter result: whole seconds, at least one. */
const secondsOf = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

const isLimited = (error: unknown): error is RateLimiterRes => error instanceof RateLimiterRes;

/**
 * How long the account stays locked after its n-th consecutive failure
 * (n ≥ maxConsecutiveFailures): the base delay, doubled with every further
 * failure, capped.
 */
export function lockDelaySeconds(lockout: LockoutConfig, failures: number): number {
  const beyond = Math.min(Math.max(0, failures - lockout.maxConsecutiveFailures), 30);
  return Math.max(1, Math.min(lockout.maxDelaySeconds, lockout.baseDelaySeconds * 2 ** beyond));
}

type LimiterOptions = { keyPrefix: string; points: number; duration: number };

interface LimiterStore {
  limiter(options: LimiterOptions): RateLimiterStoreAbstract;
  close(): Promise<void>;
}

/**
 * RateLimiterPostgres speaks node-postgres (`query({ text, values })` →
 * `{ rows, rowCount }`). PGlite's driver takes no query objects (and throws
 * outside any promise when given one), so its statements go through knex.raw,
 * which works the same on Postgres and on PGlite.
 */
function knexQueryClient(knex: Knex) {
  return {
    async query(q: { text: string; values?: unknown[] }) {
      const bindings: unknown[] = [];
      // $n may repeat in a statement; knex binds positionally
      const sql = q.text.replace(/\$(\d+)/g, (_match, n: string) => {
        bindings.push(q.values?.[Number(n) - 1] ?? null);
        return '?';
      });
      const result = await knex.raw(sql, bindings as Knex.RawBinding[]);
      const rows: unknown[] = result?.rows ?? [];
      // knex-pglite reports rowCount 0 for SELECTs
      return { rows, rowCount: Math.max(rows.length, Number(result?.rowCount ?? 0)) };
    },
  };
}

async function openSqlStore(knex: Knex): Promise<LimiterStore> {
  const client = knexQueryClient(knex);
  let tableReady = false;
  const make = (options: LimiterOptions, ready?: (error?: Error) => void) => new RateLimiterPostgres({
    ...options,
    storeClient: client,
    storeType: 'client',
    tableName: LOCKOUT_TABLE,
    tableCreated: tableReady,
    clearExpiredByTimeout: false,
  }, ready);
  // The first limiter creates the table (if missing); the others share it.
  await new Promise<void>((resolve, reject) => {
    make({ keyPrefix: 'setup', points: 1, duration: 1 }, (error) => (error ? reject(error) : resolve()));
  });
  tableReady = true;

  // Expired rows are only ignored by reads; remove them now and then.
  const purge = setInterval(() => {
    knex(LOCKOUT_TABLE).where('expire', '<', Date.now() - 60 * 60 * 1000).delete().catch(() => {});
  }, 10 * 60 * 1000);
  purge.unref();

  return {
    limiter: (options) => make(options),
    close: async () => clearInterval(purge),
  };
}

function openRedisStore(options: AttemptGuardOptions): LimiterStore {
  const client = createRedisClient({ ...options.redis, onError: options.onRedisError });
  const prefix = options.keyPrefix ?? 'tessera:';
  return {
    limiter: (limiterOptions) => new RateLimiterRedis({
      ...limiterOptions,
      keyPrefix: `${prefix}lockout:${limiterOptions.keyPrefix}`,
      storeClient: client,
    }),
    close: () => closeRedisClient(client),
  };
}

/**
 * The AttemptGuard of a deployment: in Redis when the token state is Redis,
 * otherwise in the SQL database (Postgres or the embedded PGlite).
 */
export async function createAttemptGuard(options: AttemptGuardOptions): Promise<ClosableAttemptGuard> {
  const { lockout } = options;
  let store: LimiterStore;
  if (options.redis) store = openRedisStore(options);
  else if (options.knex) store = await openSqlStore(options.knex);
  else throw new Error('createAttemptGuard needs a Redis connection or a knex instance');

  // how long a run of failures is remembered without a success
  const memory = Math.max(DAY, 2 * lockout.maxDelaySeconds);
  const attempts = store.limiter({ keyPrefix: 'attempts', points: lockout.maxConsecutiveFailures, duration: memory });
  const failures = store.limiter({ keyPrefix: 'fail', points: lockout.maxConsecutiveFailures, duration: memory });
  const locks = store.limiter({ keyPrefix: 'lock', points: 1, duration: lockout.baseDelaySeconds });
  const perIp = store.limiter({ keyPrefix: 'ip', points: lockout.perIpPerMinute, duration: MINUTE });
  const perIpAndUser = store.limiter({ keyPrefix: 'ipuser', points: lockout.perIpAndUsernamePerMinute, duration: MINUTE });

  const keysOf = (username: string, ip: string) => {
    // the form the account lookup uses: one account, one set of counters
    const user = canonicalUsername(username);
    const network = networkOf(ip);
    return { account: tokenDigest(`u\n${user}`), ip: tokenDigest(`ip\n${network}`), pair: tokenDigest(`ipu\n${network}\n${user}`) };
  };

  return {
    async beforeAttempt(username, ip) {
      const keys = keysOf(username, ip);
      const lock = await locks.get(keys.account);
      if (lock) return secondsOf(lock);

      try {
        await perIp.consume(keys.ip);
      } catch (error) {
        if (isLimited(error)) return secondsOf(error);
        throw error;
      }
      try {
        await perIpAndUser.consume(keys.pair);
      } catch (error) {
        if (!isLimited(error)) throw error;
        await perIp.reward(keys.ip);
        return secondsOf(error);
      }

      // One atomic count decides: attempts below the threshold go ahead.
      const { consumedPoints: attemptNumber } = await attempts.penalty(keys.account);
      if (attemptNumber < lockout.maxConsecutiveFailures) return undefined;
      // The attempt that could reach the threshold (or, after a lock, the first
      // one after it) takes the lock and goes ahead; the lock holds the others
      // off until it has failed (the lock is then renewed) or succeeded.
      const failed = (await failures.get(keys.account))?.consumedPoints ?? 0;
      try {
        await locks.consume(keys.account, 1, { customDuration: lockDelaySeconds(lockout, failed + 1) });
        return undefined;
      } catch (error) {
        if (!isLimited(error)) throw error;
        await Promise.all([attempts.reward(keys.account), perIp.reward(keys.ip), perIpAndUser.reward(keys.pair)]);
        return secondsOf(error);
      }
    },

    async recordFailure(username, ip) {
      const keys = keysOf(username, ip);
      const { consumedPoints: failed } = await failures.penalty(keys.account);
      // the delay runs from the failure, and grows with the failures
      if (failed < lockout.maxConsecutiveFailures) return undefined;
      const seconds = lockDelaySeconds(lockout, failed);
      await locks.block(keys.account, seconds);
      return seconds;
    },

    async recordSuccess(username, ip) {
      const keys = keysOf(username, ip);
      await Promise.all([
        attempts.delete(keys.account),
        failures.delete(keys.account),
        locks.delete(keys.account),
        perIp.reward(keys.ip),
        perIpAndUser.reward(keys.pair),
      ]);
    },

    async recordFirstFactor(username, ip) {
      const keys = keysOf(username, ip);
      const [left] = await Promise.all([attempts.reward(keys.account), perIp.reward(keys.ip), perIpAndUser.reward(keys.pair)]);
      // An attempt admitted at the threshold took the lock (one attempt at a
      // time): let it go, or the second factor's own check would find the
      // account locked by this very attempt. The failures stay: a wrong code
      // next locks at once, with a longer delay.
      if (left.consumedPoints + 1 >= lockout.maxConsecutiveFailures) await locks.delete(keys.account);
    },

    async releaseAttempt(username, ip) {
      const keys = keysOf(username, ip);
      await Promise.all([attempts.reward(keys.account), perIp.reward(keys.ip), perIpAndUser.reward(keys.pair)]);
    },

    close: () => store.close(),
  };
}
