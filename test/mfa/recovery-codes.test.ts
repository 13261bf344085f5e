// Recovery codes (src/mfa/recovery-codes.ts): their form, how typed input is read, their digests.
import { describe, test, expect } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { newRecoveryCodes, normalizeRecoveryCode, recoveryCodeDigest, recoveryCodeKey } from '../../src/mfa/recovery-codes.ts';

describe('recovery codes', () => {
  test('ten codes of 12 Crockford base32 characters, grouped by four, all different', () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);
  });

  test('every character is used (60 random bits, no bias toward a part of the alphabet)', () => {
    const seen = new Set(newRecoveryCodes(200).join('').replace(/-/g, ''));
    expect(seen.size).toBe(32);
  });

  test('typed input: any case, dashes and spaces ignored, I and L read as 1, O as 0', () => {
    expect(normalizeRecoveryCode('abcd-efgh-jk01')).toBe('ABCDEFGHJK01');
    expect(normalizeRecoveryCode(' ABCD EFGH JKOI ')).toBe('ABCDEFGHJK01');
    expect(normalizeRecoveryCode('abcdefghjkol')).toBe('ABCDEFGHJK01');
    for (const bad of ['', 'abcd-efgh-jk0', 'abcd-efgh-jk012', 'abcd-efgh-jk0u', 'abcd_efgh_jk01', 'x'.repeat(100), undefined as unknown as string]) {
      expect(normalizeRecoveryCode(bad)).toBeUndefined();
    }
  });

  test('the digest is keyed (HMAC under a key derived from the mfa key), the same for every way of typing a code', () => {
    const mfaKey = randomBytes(32);
    const key = recoveryCodeKey(mfaKey);
    expect(key.equals(mfaKey)).toBe(false);
    const [code] = newRecoveryCodes(1);
    const digest = recoveryCodeDigest(key, code)!;
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(recoveryCodeDigest(key, code.toUpperCase().replace(/-/g, ' '))).toBe(digest);
    expect(recoveryCodeDigest(recoveryCodeKey(randomBytes(32)), code)).not.toBe(digest);
    expect(recoveryCodeDigest(key, 'not a code')).toBeUndefined();
  });
});
