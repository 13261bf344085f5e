import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/*
 * RFC 6238 TOTP as authenticator apps implement it: HMAC-SHA1, 6 digits,
 * 30-second steps from the Unix epoch, and RFC 4648 base32 for the secret
 * the person types or scans. Nothing here stores anything: whether a step
 * was already used is the repository's question (mfa_totp.last_used_step).
 */

export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** RFC 4226 recommends at least 128 bits and suggests 160: the length of an HMAC-SHA1 key block's natural size. */
export const TOTP_SECRET_BYTES = 20;

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32, upper case, without padding (the form authenticator apps take). */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * RFC 4648 base32 as people type it: any case, spaces ignored, padding
 * optional. Throws on any other character, and on trailing bits that are not
 * zero (a value no encoder writes).
 */
export function base32Decode(text: string): Buffer {
  const cleaned = text.replace(/\s+/g, '').toUpperCase().replace(/=+$/, '');
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of cleaned) {
    const value = BASE32_ALPHABET.indexOf(char);
    if (value < 0) throw new Error('not base32');
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits >= 5 || buffer !== 0) throw new Error('not base32');
  return Buffer.from(out);
}

/** A new secret: 20 random bytes, in base32. */
export function newTotpSecret(): string {
  return base32Encode(randomBytes(TOTP_SECRET_BYTES));
}

/** The time step of a moment: whole periods since the Unix epoch. */
export const stepAt = (nowSeconds: number): number => Math.floor(nowSeconds / TOTP_PERIOD_SECONDS);

/** RFC 4226 HOTP of one counter value (RFC 6238: the counter is the time step). */
export function hotp(key: Buffer, counter: number, digits = TOTP_DIGITS): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  // dynamic truncation (RFC 4226 section 5.3)
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** The code of a base32 secret at a time step. */
export function totpAtStep(secret: string, step: number, digits = TOTP_DIGITS): string {
  return hotp(base32Decode(secret), step, digits);
}

const CODE = new RegExp(`^\\d{${TOTP_DIGITS}}$`);

/**
 * The time step whose code `code` is, within `skewSteps` steps of now either
 * way, or undefined. Every candidate is computed and compared in constant time
 * (no early exit tells how close a guess came). A code that is not exactly six
 * digits matches nothing.
 */
export function matchingStep(secret: string, code: string, nowSeconds: number, skewSteps = 1): number | undefined {
  if (typeof code !== 'string' || !CODE.test(code)) return undefined;
  const key = base32Decode(secret);
  const given = Buffer.from(code, 'utf8');
  const now = stepAt(nowSeconds);
  let matched: number | undefined;
  for (let step = now - skewSteps; step <= now + skewSteps; step += 1) {
    if (step < 0) continue;
    const expected = Buffer.from(hotp(key, step), 'utf8');
    if (timingSafeEqual(expected, given) && matched === undefined) matched = step;
  }
  return matched;
}
