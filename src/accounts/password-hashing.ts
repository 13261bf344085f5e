import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import type { PasswordHashingConfig } from '../config/index.ts';

/** Thrown when too many password verifications are already waiting. */
export class HashingOverloadedError extends Error {
  readonly retryAfterSeconds = 1;
  // read by HTTP error handlers (the login page's among them): 503 + Retry-After
  readonly status = 503;
  readonly headers = { 'retry-after': String(this.retryAfterSeconds) };
  constructor() { super('password hashing is overloaded'); }
}

/**
 * At most `maxConcurrent` argon2 runs at once, at most `maxQueued` waiting;
 * beyond that callers are refused at once, so a flood of logins cannot take
 * all memory or starve the other endpoints.
 */
export function createHashingQueue(limits: { maxConcurrent: number; maxQueued: number }) {
  let running = 0;
  let refused = 0;
  const waiting: Array<() => void> = [];
  async function run<T>(work: () => Promise<T>): Promise<T> {
    if (running >= limits.maxConcurrent) {
      if (waiting.length >= limits.maxQueued) {
        refused++;
        throw new HashingOverloadedError();
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      running++;
    }
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next(); // hand our slot straight to the next waiter
      else running--;
    }
  }
  /** how busy the queue is now (read by the metrics at each scrape) */
  run.load = () => ({ running, waiting: waiting.length, refused });
  return run;
}

/**
 * How many hashes may really run at once: at most `maxConcurrent`, but
 * - one CPU fewer than this process may use (at least one hash): each hash
 *   keeps a CPU busy for its whole length, and the event loop, which serves
 *   every other request, needs one; more hashes than CPUs only add latency and
 *   memory (each holds memoryCost), no throughput;
 * - one fewer than libuv's threads (UV_THREADPOOL_SIZE, 4 by default): each
 *   hash holds a thread for its whole length, and WebCrypto signing (every
 *   JWT), fs and dns.lookup wait for a free one, so a login flood would stall
 *   every token request behind the hashes.
 */
export function effectiveHashingConcurrency(
  maxConcurrent: number,
  cpus: number = availableParallelism(),
  threadPoolSize: number = Number(process.env.UV_THREADPOOL_SIZE) || 4,
): number {
  return Math.max(1, Math.min(maxConcurrent, cpus - 1, threadPoolSize - 1));
}

const BCRYPT_PREFIX = /^\$2[aby]\$\d\d\$/;

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;

export function createPasswordHasher(config: PasswordHashingConfig) {
  const options = {
    type: argon2.argon2id as 2,
    memoryCost: config.memoryCost,
    timeCost: config.timeCost,
    parallelism: config.parallelism,
  };
  const queue = createHashingQueue({
    maxConcurrent: effectiveHashingConcurrency(config.maxConcurrent),
    maxQueued: config.maxQueued,
  });
  // Verified when the account does not exist, so that unknown users cost the
  // same time as known ones.
  const dummyHash = argon2.hash('tessera-dummy-password', options);

  return {
    hash: (password: string) => queue(() => argon2.hash(password, options)),

    /** argon2id and bcrypt ($2a$/$2b$/$2y$) hashes; anything else never verifies. */
    verify: (storedHash: string, password: string): Promise<boolean> => queue(async () => {
      if (storedHash.startsWith('$argon2')) return argon2.verify(storedHash, password);
      if (BCRYPT_PREFIX.test(storedHash)) return bcrypt.compare(password, storedHash.replace(/^\$2y\$/, '$2b$'));
      // a hash of no known kind costs as much as a real check, and never verifies
      await argon2.verify(await dummyHash, password);
      return false;
    }),

    /** Burns the time of one verification. */
    verifyDummy: (password: string) => queue(async () => { await argon2.verify(await dummyHash, password); }),

    /** True when the hash is not argon2id at the configured parameters. */
    needsRehash: (storedHash: string) => !storedHash.startsWith('$argon2id$') || argon2.needsRehash(storedHash, options),

    isSupportedHash: (storedHash: string) => storedHash.startsWith('$argon2id$') || BCRYPT_PREFIX.test(storedHash),

    /** hashes running and waiting now, and verifications refused since start (metrics) */
    load: queue.load,
  };
}
