import { createHmac, timingSafeEqual } from 'node:crypto';

// Stateless, like the interaction pages' tokens (src/interactions/csrf.ts),
// but bound to what the form acts for: the sign-in session (its uid) on
// /account, the reset link on /account/reset. A token taken from one
// person's page is useless in another's session, and after sign-out.
// The purpose prefix keeps these tokens from ever equalling an interaction's.

export function accountCsrfToken(secret: string, purpose: 'session' | 'reset', binding: string): string {
  return createHmac('sha256', secret).update(`account-${purpose}\0${binding}`).digest('base64url');
}

export function isValidAccountCsrfToken(secret: string, purpose: 'session' | 'reset', binding: string, token: unknown): boolean {
  if (typeof token !== 'string' || token.length === 0) return false;
  const expected = Buffer.from(accountCsrfToken(secret, purpose, binding));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
