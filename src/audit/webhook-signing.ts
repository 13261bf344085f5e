import { createHmac, randomBytes } from 'node:crypto';
import { seal, unseal } from '../crypto/index.ts';

/*
 * The signing secret of a webhook subscription: shown once, at creation, and
 * kept in the database sealed (AES-256-GCM) with the key in
 * KEYS_DIR/webhook-key.json. It has to be usable to sign, so a digest would
 * not do; sealed, a dump of the database alone yields no usable secret. The
 * subscription id is the additional authenticated data: a sealed secret
 * copied onto another row does not open there.
 */

/** 256 bits of randomness; the prefix tells a reader what it is (and secret scanners what to look for). */
export const newSigningSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

export const sealSecret = (key: Buffer, secret: string, subscriptionId: string): string => seal(key, secret, subscriptionId);

/** Throws when the value was not sealed with this key for this subscription. */
export const openSecret = (key: Buffer, sealed: string, subscriptionId: string): string => unseal(key, sealed, subscriptionId);

/**
 * `Tessera-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`
 * with the secret's text (as shown) as the HMAC key. The time is signed too,
 * so a receiver that refuses old timestamps refuses replays.
 */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}
