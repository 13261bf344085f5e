import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/*
 * The signing secret of a webhook subscription: shown once, at creation, and
 * kept in the database sealed (AES-256-GCM) with the key in
 * KEYS_DIR/webhook-key.json. It has to be usable to sign, so a digest would
 * not do; sealed, a dump of the database alone yields no usable secret. The
 * subscription id is the additional authenticated data: a sealed secret
 * copied onto another row does not open there.
 */

const SEALED = /^v1\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

/** 256 bits of randomness; the prefix tells a reader what it is (and secret scanners what to look for). */
export const newSigningSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

export function sealSecret(key: Buffer, secret: string, subscriptionId: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(subscriptionId, 'utf8'));
  const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return `v1.${iv.toString('base64url')}.${sealed.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
}

/** Throws when the value was not sealed with this key for this subscription. */
export function openSecret(key: Buffer, sealed: string, subscriptionId: string): string {
  const parts = SEALED.exec(sealed);
  if (!parts) throw new Error('not a sealed webhook secret');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parts[1], 'base64url'));
  decipher.setAAD(Buffer.from(subscriptionId, 'utf8'));
  decipher.setAuthTag(Buffer.from(parts[3], 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(parts[2], 'base64url')), decipher.final()]).toString('utf8');
}

/**
 * `Tessera-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`
 * with the secret's text (as shown) as the HMAC key. The time is signed too,
 * so a receiver that refuses old timestamps refuses replays.
 */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}
