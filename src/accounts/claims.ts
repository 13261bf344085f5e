import type { Account } from './repository.ts';

/** Claims by scope: what each scope releases about the account. */
export function claimsOf(account: Account): Record<string, unknown> {
  return {
    sub: account.id,
    preferred_username: account.username,
    name: account.name ?? account.username,
    updated_at: Math.floor(account.updatedAt.getTime() / 1000),
    email: account.email ?? undefined,
    email_verified: account.email ? account.emailVerified : undefined,
    roles: account.roles,
  };
}

/** The provider's `claims` option: which claim belongs to which scope. */
export const CLAIMS_BY_SCOPE = {
  openid: ['sub'],
  profile: ['preferred_username', 'name', 'updated_at'],
  email: ['email', 'email_verified'],
  roles: ['roles'],
};
