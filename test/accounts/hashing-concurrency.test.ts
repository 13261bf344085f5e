import { describe, expect, test } from '@jest/globals';
import { effectiveHashingConcurrency } from '../../src/accounts/password-hashing.ts';

describe('how many password hashes run at once', () => {
  test('at most maxConcurrent', () => {
    expect(effectiveHashingConcurrency(2, 16, 8)).toBe(2);
  });

  test('one CPU is left to the event loop', () => {
    expect(effectiveHashingConcurrency(4, 1, 4)).toBe(1);
    expect(effectiveHashingConcurrency(4, 2, 4)).toBe(1);
    expect(effectiveHashingConcurrency(4, 3, 8)).toBe(2);
  });

  test("never all of libuv's threads, which WebCrypto signing, fs and dns.lookup share", () => {
    expect(effectiveHashingConcurrency(4, 8, 4)).toBe(3);
    expect(effectiveHashingConcurrency(16, 32, 8)).toBe(7);
  });

  test('always at least one', () => {
    expect(effectiveHashingConcurrency(4, 8, 1)).toBe(1);
    expect(effectiveHashingConcurrency(1, 0, 0)).toBe(1);
  });
});
