/*
 * Strength of a client secret a person chose (TESSERA_ADMIN_CLIENT_SECRET).
 * Secrets Tessera generates are 256 random bits and need no check.
 *
 * The estimate is deliberately simple and errs on the side of refusing
 * patterns: each character counts for log2 of the alphabet its character
 * classes span (lower case, upper case, digits, symbols), except characters a
 * guesser would predict from the ones before — the third and later of a run
 * of one character, of a sequence (abc, 321) or of a walk along a keyboard
 * row (qwe), and any character that repeats three earlier characters in the
 * same order (passwordpassword). Dictionary words are not recognised: the
 * estimate is an upper bound for a phrase, hence the margin of the threshold.
 * A random 32-character hex string (openssl rand -hex 16) estimates at
 * 140-165 bits; 32 random digits at most 106, refused.
 */

export const MIN_SECRET_LENGTH = 32;
/** 2^128 guesses of SHA-256 are out of reach of any attacker holding the digest. */
export const MIN_SECRET_BITS = 128;

const KEYBOARD_ROWS = ['`1234567890-=', 'qwertyuiop[]\\', "asdfghjkl;'", 'zxcvbnm,./'];

function alphabetSize(chars: string[]): number {
  let size = 0;
  if (chars.some((c) => /[a-z]/.test(c))) size += 26;
  if (chars.some((c) => /[A-Z]/.test(c))) size += 26;
  if (chars.some((c) => /[0-9]/.test(c))) size += 10;
  if (chars.some((c) => /[\x20-\x7e]/.test(c) && !/[A-Za-z0-9]/.test(c))) size += 33;
  if (chars.some((c) => c.codePointAt(0)! > 0x7e)) size += 100;
  return size;
}

/** The step from one character to the next along the alphabet or a keyboard row; undefined when there is none. */
function step(from: string, to: string): string | undefined {
  const delta = to.codePointAt(0)! - from.codePointAt(0)!;
  if (Math.abs(delta) <= 1) return `code${delta}`;
  for (const [row, keys] of KEYBOARD_ROWS.entries()) {
    const a = keys.indexOf(from.toLowerCase());
    const b = keys.indexOf(to.toLowerCase());
    if (a !== -1 && b !== -1 && Math.abs(a - b) === 1) return `row${row}${b - a}`;
  }
  return undefined;
}

function isPredictable(chars: string[], i: number): boolean {
  if (i < 2) return false;
  const continuing = step(chars[i - 2], chars[i - 1]);
  if (continuing !== undefined && continuing === step(chars[i - 1], chars[i])) return true;
  const trigram = chars.slice(i - 2, i + 1).join('');
  return chars.slice(0, i).join('').includes(trigram);
}

/** Estimated bits of entropy of a secret a person chose. */
export function estimateSecretBits(secret: string): number {
  const chars = [...secret];
  const unpredictable = chars.filter((_, i) => !isPredictable(chars, i)).length;
  return unpredictable * Math.log2(Math.max(alphabetSize(chars), 1));
}

/**
 * Why the secret is too weak to be stored as a plain SHA-256 digest, or
 * undefined when it is strong enough. The answer never contains the secret.
 */
export function secretWeakness(secret: string): string | undefined {
  if ([...secret].length < MIN_SECRET_LENGTH) return `it is shorter than ${MIN_SECRET_LENGTH} characters`;
  if (estimateSecretBits(secret) < MIN_SECRET_BITS) {
    return `it is too predictable (repeated or sequential characters, or too few kinds of characters: under ${MIN_SECRET_BITS} bits of estimated entropy)`;
  }
  return undefined;
}
