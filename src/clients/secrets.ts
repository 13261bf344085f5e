import { randomBytes } from 'node:crypto';
import { digestMatches, tokenDigest } from '../crypto/index.ts';

/** 256 bits of randomness: a fast digest is the right way to store it. */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export const digestClientSecret = tokenDigest;

export function clientSecretMatches(storedDigest: string, presented: string): boolean {
  return digestMatches(storedDigest, presented);
}
