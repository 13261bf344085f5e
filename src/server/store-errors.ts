/**
 * Errors that mean a store (Postgres, PGlite or Redis) cannot be reached right
 * now: the request gets 503 + Retry-After instead of a 500, and the process
 * carries on until the store returns.
 */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P03', '08006', '08001', '08003']);
const UNAVAILABLE_MESSAGES = [
  /Knex: Timeout acquiring a connection/i,
  /Connection is closed/i,
  /Connection terminated/i,
  /Reached the max retries per request limit/i,
  /Stream isn't writeable/i,
  /the database system is (starting|shutting) up/i,
  /CLUSTERDOWN/i,
  /None of startup nodes is available/i,
  /Failed to refresh slots cache/i,
];

export function isStoreUnavailable(error: unknown): boolean {
  for (let e = error as { code?: string; message?: string; cause?: unknown; errors?: unknown[] } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code && UNAVAILABLE_CODES.has(e.code)) return true;
    if (e.message && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(e!.message!))) return true;
    if (Array.isArray(e.errors) && e.errors.some(isStoreUnavailable)) return true;
  }
  return false;
}

export const RETRY_AFTER_SECONDS = 5;
