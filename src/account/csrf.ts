import { csrfTokenFor, isValidCsrfToken } from '../interactions/index.ts';

// The interaction pages' stateless tokens (src/interactions/csrf.ts), bound
// to what the form acts for: the sign-in session (its uid) on /account, the
// reset link on /account/reset. A token taken from one person's page is
// useless in another's session, and after sign-out. The purpose prefix keeps
// these tokens from ever equalling an interaction's.
const bindingOf = (purpose: 'session' | 'reset', binding: string) => `account-${purpose}\0${binding}`;

export function accountCsrfToken(secret: string, purpose: 'session' | 'reset', binding: string): string {
  return csrfTokenFor(secret, bindingOf(purpose, binding));
}

export function isValidAccountCsrfToken(secret: string, purpose: 'session' | 'reset', binding: string, token: unknown): boolean {
  return isValidCsrfToken(secret, bindingOf(purpose, binding), token);
}
