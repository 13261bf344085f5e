import { createHmac, hkdfSync, randomBytes } from 'node:crypto';

/*
 * Recovery codes: ten single-use codes a person keeps on paper for when the
 * authenticator app is lost. Each is 12 characters of Crockford's base32
 * (60 random bits), shown as xxxx-xxxx-xxxx. Typed input is forgiving the way
 * Crockford's alphabet intends: any case, dashes and spaces ignored, I and L
 * read as 1, O as 0.
 *
 * Only an HMAC-SHA256 of a code is stored, keyed by a key derived from the mfa
 * key (KEYS_DIR): a dump of the database neither shows the codes nor lets
 * anyone test guesses offline. The derived key keeps the HMAC apart from the
 * AES-GCM sealing that uses the mfa key itself.
 */

export const RECOVERY_CODE_COUNT = 10;
const CODE_LENGTH = 12;
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Ten new codes, as shown to the person (lower case, grouped by four). */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    // 8 bytes give 64 bits; the first 60 make the 12 characters
    const value = randomBytes(8).readBigUInt64BE() >> 4n;
    let code = '';
    for (let i = CODE_LENGTH - 1; i >= 0; i -= 1) code += CROCKFORD[Number((value >> BigInt(i * 5)) & 31n)];
    return formatRecoveryCode(code);
  });
}

export const formatRecoveryCode = (normalized: string): string =>
  normalized.toLowerCase().replace(/(.{4})(?=.)/g, '$1-');

/**
 * The canonical form of a typed recovery code (12 upper-case Crockford
 * characters), or undefined when it cannot be one.
 */
export function normalizeRecoveryCode(input: string): string | undefined {
  if (typeof input !== 'string' || input.length > 64) return undefined;
  const code = input.toUpperCase().replace(/[\s-]+/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (code.length !== CODE_LENGTH) return undefined;
  for (const char of code) if (!CROCKFORD.includes(char)) return undefined;
  return code;
}

/** The HMAC key for recovery codes, derived from the mfa key. */
export function recoveryCodeKey(mfaKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', mfaKey, Buffer.alloc(0), 'tessera recovery codes v1', 32));
}

/** What is stored for a code (hex): the same for every way of typing it. */
export function recoveryCodeDigest(key: Buffer, code: string): string | undefined {
  const normalized = normalizeRecoveryCode(code);
  return normalized && createHmac('sha256', key).update(normalized).digest('hex');
}
