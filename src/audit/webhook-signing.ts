import { createHmac, randomBytes } from 'node:crypto';

/*
 * The signing secret of a webhook subscription: shown once, at creation, and
 * kept in the database sealed (src/crypto/sealing.ts) with the key in
 * KEYS_DIR/webhook-key.json, bound to the subscription id (src/audit/webhooks.ts).
 * It has to be usable to sign, so a digest would not do.
 */

/** 256 bits of randomness; the prefix tells a reader what it is (and secret scanners what to look for). */
export const newSigningSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

/**
 * `Tessera-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`
 * with the secret's text (as shown) as the HMAC key. The time is signed too,
 * so a receiver that refuses old timestamps refuses replays.
 */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}
