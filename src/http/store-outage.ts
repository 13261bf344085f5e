/**
 * Errors that mean a store (Postgres, PGlite or Redis) cannot be reached right
 * now: the request gets 503 + Retry-After instead of a 500, and the process
 * carries on until the store returns.
 */
const UNAVAILABLE_CODES = new Set([
  // sockets
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN',
  'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  // Postgres: disk full, out of memory, too many connections, admin / crash shutdown, starting up
  '53100', '53200', '53300', '57P01', '57P02', '57P03',
]);
// Postgres SQLSTATE class 08: connection exception (08000, 08001, 08003, 08006, ...)
const UNAVAILABLE_CODE_CLASSES = [/^08[0-9A-Z]{3}$/];

const UNAVAILABLE_MESSAGES = [
  // knex / pg
  /Knex: Timeout acquiring a connection/i,
  /Connection terminated/i,
  /the database system is (starting|shutting) up/i,
  // ioredis: disconnected, gave up on a command, or a server that accepts but does not answer
  /Connection is closed/i,
  /Reached the max retries per request limit/i,
  /Stream isn't writeable/i,
  /Command timed out/i,
  // Redis restarting (loading its AOF), Sentinel failover in progress
  /^LOADING\b/,
  /^READONLY\b/,
  /^MASTERDOWN\b/,
  /^TRYAGAIN\b/,
  // Redis full (maxmemory with noeviction, the setting docs/operations.md asks for): a capacity
  // outage for the operator to fix, not a bug; the request may succeed once memory is freed
  /^OOM\b/,
  // Redis Cluster
  /CLUSTERDOWN/i,
  /None of startup nodes is available/i,
  /Failed to refresh slots cache/i,
  /Cluster isn't ready/i,
  /Too many Cluster redirections/i,
  /Redis cluster is unreachable/i,
];

export function isStoreUnavailable(error: unknown): boolean {
  for (let e = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown[] } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e !== 'object') return false;
    const { code, message } = e;
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_CODE_CLASSES.some((pattern) => pattern.test(code)))) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))) return true;
    if (Array.isArray(e.errors) && e.errors.some(isStoreUnavailable)) return true;
  }
  return false;
}

/** How long a client should wait before trying again after a 503, unless the error says otherwise. */
export const RETRY_AFTER_SECONDS = 5;

/** The one wording of "try again later", on pages, in OAuth errors and in problem documents. */
export const UNAVAILABLE_MESSAGE = 'The service is temporarily unavailable. Try again shortly.';

/** The OAuth error body of a 503 (RFC 6749's temporarily_unavailable). */
export const unavailableOAuthError = () => ({ error: 'temporarily_unavailable', error_description: UNAVAILABLE_MESSAGE });

/**
 * The one decision every HTTP surface makes about a failure: does it mean
 * "503, try again after N seconds"? Yes for a store that cannot be reached,
 * and for an error that asks for a 503 itself (password hashing at capacity
 * carries status 503 and its own Retry-After). Returns the Retry-After value,
 * or undefined when the failure is something else.
 */
export function retryAfterFor(error: unknown): string | undefined {
  const asked = error as { status?: unknown; headers?: Record<string, unknown> } | null | undefined;
  if (!isStoreUnavailable(error) && asked?.status !== 503) return undefined;
  const retryAfter = asked?.headers?.['retry-after'];
  return typeof retryAfter === 'string' || typeof retryAfter === 'number' ? String(retryAfter) : String(RETRY_AFTER_SECONDS);
}
