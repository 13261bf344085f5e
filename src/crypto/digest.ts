import { hash, timingSafeEqual } from 'node:crypto';

/**
 * Store keys are digests of token values, so a dump of the store yields no
 * usable token. Tokens are high-entropy random values: a fast digest is right.
 * (crypto.hash is the one-shot form: no Hash object per call.)
 */
export function tokenDigest(value: string): string {
  return hash('sha256', value, 'base64url');
}

/** Whether `value` digests to `expectedDigest` (a tokenDigest), in constant time. */
export function digestMatches(expectedDigest: string, value: string): boolean {
  const expected = Buffer.from(expectedDigest);
  const actual = Buffer.from(tokenDigest(value));
  // a digest has a fixed length; a stored value of another length never matches
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
