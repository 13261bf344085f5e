import { createHmac, timingSafeEqual } from 'node:crypto';

// Stateless: the token is derived from what it is bound to (an interaction uid; /account
// binds its own, src/account/csrf.ts), so no server-side storage is needed and the token
// is useless for anything else.

export function csrfTokenFor(secret: string, uid: string): string {
  return createHmac('sha256', secret).update(uid).digest('base64url');
}

export function isValidCsrfToken(secret: string, uid: string, token: unknown): boolean {
  if (typeof token !== 'string' || token.length === 0) return false;
  const expected = Buffer.from(csrfTokenFor(secret, uid));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
