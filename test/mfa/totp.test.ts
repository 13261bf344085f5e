// RFC 6238 TOTP and RFC 4648 base32 (src/mfa/totp.ts), against the RFC's own
// vectors and an independent implementation (otpauth).
import { describe, test, expect } from '@jest/globals';
import { randomBytes, randomInt } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import { base32Decode, base32Encode, hotp, matchingStep, newTotpSecret, stepAt, totpAtStep } from '../../src/mfa/totp.ts';

const otpauthCode = (secret: string, seconds: number) => new OTPAuth.TOTP({
  secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30,
}).generate({ timestamp: seconds * 1000 });

describe('RFC 6238 Appendix B (SHA-1)', () => {
  // the RFC's seed: the ASCII string "12345678901234567890"
  const seed = Buffer.from('12345678901234567890', 'ascii');
  const vectors: Array<[number, string]> = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];

  test.each(vectors)('T = %d: %s with 8 digits, its last 6 with 6', (seconds, expected) => {
    expect(hotp(seed, stepAt(seconds), 8)).toBe(expected);
    expect(hotp(seed, stepAt(seconds))).toBe(expected.slice(2));
    const secret = base32Encode(seed);
    expect(totpAtStep(secret, stepAt(seconds))).toBe(expected.slice(2));
    expect(matchingStep(secret, expected.slice(2), seconds)).toBe(stepAt(seconds));
  });
});

describe('base32 (RFC 4648)', () => {
  test('the RFC 4648 section 10 vectors, without padding', () => {
    const vectors: Array<[string, string]> = [['', ''], ['f', 'MY'], ['fo', 'MZXQ'], ['foo', 'MZXW6'], ['foob', 'MZXW6YQ'], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI']];
    for (const [plain, encoded] of vectors) {
      expect(base32Encode(Buffer.from(plain))).toBe(encoded);
      expect(base32Decode(encoded).toString()).toBe(plain);
    }
  });

  test('decoding takes any case, spaces and padding; refuses other characters', () => {
    expect(base32Decode('mzxw 6ytb oi======').toString()).toBe('foobar');
    expect(() => base32Decode('MZXW1')).toThrow();
    expect(() => base32Decode('MZXW6YTBO!')).toThrow();
    // trailing bits no encoder writes
    expect(base32Decode('MY').toString()).toBe('f');
    expect(() => base32Decode('MZ')).toThrow();
    // a length no encoder writes (a whole 5-bit group left over)
    expect(() => base32Decode('MZX')).toThrow();
  });

  test('round trip of random bytes, and agreement with otpauth', () => {
    for (let i = 0; i < 50; i += 1) {
      const bytes = randomBytes(randomInt(0, 41));
      const encoded = base32Encode(bytes);
      expect(base32Decode(encoded).equals(bytes)).toBe(true);
      expect(encoded).toBe(new OTPAuth.Secret({ buffer: new Uint8Array(bytes).buffer }).base32.replace(/=+$/, ''));
    }
  });

  test('a new secret is 20 random bytes', () => {
    const secret = newTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(secret)).toHaveLength(20);
    expect(newTotpSecret()).not.toBe(secret);
  });
});

describe('codes', () => {
  test('the same codes as otpauth for random secrets and times', () => {
    for (let i = 0; i < 200; i += 1) {
      const secret = newTotpSecret();
      const seconds = randomInt(0, 2 ** 40);
      const code = otpauthCode(secret, seconds);
      expect(totpAtStep(secret, stepAt(seconds))).toBe(code);
      expect(matchingStep(secret, code, seconds)).toBe(stepAt(seconds));
    }
  });

  test('±1 step accepted (the step of the code is returned), ±2 refused', () => {
    const secret = newTotpSecret();
    const now = 1_700_000_015;
    const step = stepAt(now);
    expect(matchingStep(secret, otpauthCode(secret, now - 30), now)).toBe(step - 1);
    expect(matchingStep(secret, otpauthCode(secret, now + 30), now)).toBe(step + 1);
    expect(matchingStep(secret, otpauthCode(secret, now), now)).toBe(step);
    for (const offset of [-60, 60]) {
      const code = otpauthCode(secret, now + offset);
      // (unless, by chance, that code is also one of the window's own)
      const window = [-30, 0, 30].map((o) => otpauthCode(secret, now + o));
      if (!window.includes(code)) expect(matchingStep(secret, code, now)).toBeUndefined();
    }
    // no skew allowed: only the current step
    expect(matchingStep(secret, otpauthCode(secret, now - 30), now, 0)).toBeUndefined();
  });

  test('malformed codes match nothing', () => {
    const secret = newTotpSecret();
    const now = 1_700_000_000;
    const code = otpauthCode(secret, now);
    for (const bad of ['', code.slice(1), `${code}0`, ` ${code}`, `${code.slice(0, 3)} ${code.slice(3)}`, 'abcdef', '１２３４５６', `${code}\n`, '-12345', '+12345', undefined as unknown as string, 123456 as unknown as string]) {
      expect(matchingStep(secret, bad, now)).toBeUndefined();
    }
  });
});
