// Consent screens describe scopes in words a person can judge, not as protocol tokens.

export interface ScopeDescription {
  name: string;
  description: string;
}

const OIDC_SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = Object.freeze({
  openid: 'Sign you in and know which account is yours',
  profile: 'See your basic profile: name and username',
  email: 'See your email address',
  address: 'See your postal address',
  phone: 'See your phone number',
  offline_access: 'Keep access while you are not using it, until you revoke it',
  roles: 'See the roles assigned to your account',
});

function fallbackDescription(scope: string): string {
  return `Use the “${scope}” permission`;
}

export function describeScope(scope: string): string {
  return Object.hasOwn(OIDC_SCOPE_DESCRIPTIONS, scope) ? OIDC_SCOPE_DESCRIPTIONS[scope] : fallbackDescription(scope);
}

export function describeScopes(scopes: Iterable<string>): ScopeDescription[] {
  return [...scopes].map((name) => ({ name, description: describeScope(name) }));
}

/** Resource (API) scopes are defined by each resource server, so they get the generic wording. */
export function describeResourceScopes(scopes: Iterable<string>): ScopeDescription[] {
  return [...scopes].map((name) => ({ name, description: fallbackDescription(name) }));
}
