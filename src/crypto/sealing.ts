import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/*
 * Secrets Tessera must be able to use again (a webhook's signing secret, a
 * person's TOTP secret) cannot be stored as digests: they are sealed with
 * AES-256-GCM under a key from KEYS_DIR, so a dump of the database alone
 * yields nothing usable. The additional authenticated data names the row the
 * value belongs to: a sealed value copied onto another row does not open there.
 */

const SEALED = /^v1\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

export function seal(key: Buffer, plaintext: string, boundTo: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(boundTo, 'utf8'));
  const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `v1.${iv.toString('base64url')}.${sealed.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
}

/** Throws when the value was not sealed with this key for this row. */
export function unseal(key: Buffer, sealed: string, boundTo: string): string {
  const parts = SEALED.exec(sealed);
  if (!parts) throw new Error('not a sealed value');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parts[1], 'base64url'));
  decipher.setAAD(Buffer.from(boundTo, 'utf8'));
  decipher.setAuthTag(Buffer.from(parts[3], 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(parts[2], 'base64url')), decipher.final()]).toString('utf8');
}
