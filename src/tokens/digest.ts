import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Store keys are digests of token values, so a dump of the store yields no
 * usable token. Tokens are high-entropy random values: a fast digest is right.
 */
export function tokenDigest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** Constant-time comparison of two strings of possibly different length. */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}
