import { OIDC_SCOPES } from './oidc-scopes.ts';

/**
 * The one scope rule for every grant: a client gets the scopes it was
 * explicitly allowed (its allow-list) that the resource — or OpenID Connect —
 * offers, and nothing else. An absent or empty allow-list allows nothing.
 */

/** First-party clients skip consent and may use the password grant: only when registered so. */
export const isFirstParty = (client: unknown): boolean => (client as { first_party?: unknown } | undefined)?.first_party === true;

/**
 * A client whose sign-ins must prove a second factor (its `require_mfa`
 * setting): only when registered so. Absent grants nothing and asks for
 * nothing more than a password, as before the setting existed.
 */
export const requiresSecondFactor = (client: unknown): boolean => (client as { require_mfa?: unknown } | undefined)?.require_mfa === true;

/** The scope of Tessera's own admin API: reserved, no resource server may declare it. */
export const ADMIN_SCOPE = 'admin';

/**
 * Scope names with one meaning wherever they appear in an allow-list: the
 * admin API's and the OpenID Connect ones. No resource server may declare
 * them, and a client may list them without any resource offering them.
 */
export const isReservedScope = (scope: string): boolean => scope === ADMIN_SCOPE || OIDC_SCOPES.includes(scope);

/**
 * The grant types a client may be registered for (no implicit grant: RFC 9700 §2.1.2).
 * The device grant (RFC 8628) is open to public clients too (§3.1: a device cannot keep a secret).
 */
export const REGISTRABLE_GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', 'password',
  // RFC 8693 token exchange (src/grants/token-exchange.ts)
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'urn:ietf:params:oauth:grant-type:device_code'] as const;

/** A client's allow-list as stored in its metadata; absent or malformed means empty. */
export function allowListOf(client: unknown): readonly string[] {
  const list = (client as { allowed_scopes?: unknown } | undefined)?.allowed_scopes;
  return Array.isArray(list) ? list.filter((scope): scope is string => typeof scope === 'string') : [];
}

/** Scopes of `offered` that the client's allow-list permits (no list: none). */
export function allowedScopes(offered: Iterable<string>, client: unknown): string[] {
  const allowList = new Set(allowListOf(client));
  return [...offered].filter((scope) => allowList.has(scope));
}

/** The OpenID Connect scopes the client may request at any endpoint. */
export function allowedOidcScopes(client: unknown): string[] {
  return allowedScopes(OIDC_SCOPES, client);
}

export interface RegistrationInput {
  grantTypes: readonly string[];
  scopes?: readonly string[];
  firstParty?: boolean;
  public?: boolean;
  introspectFor?: readonly string[];
  /** the audiences the client may exchange tokens for (token exchange; absent: none) */
  tokenExchangeAudiences?: readonly string[];
  tokenExchangeImpersonation?: boolean;
}

/** What the server offers, for judging a registration. */
export interface Offer {
  /** every scope some resource server declares */
  resourceScopes: ReadonlySet<string>;
  /** every resource server identifier */
  resources: ReadonlySet<string>;
  /** the resource servers that clients nobody registered by hand may receive tokens for (their `dynamic_clients` flag) */
  dynamicClientResources: ReadonlySet<string>;
  /** every scope those resource servers declare: all a dynamically registered or metadata-document client may get beside OIDC scopes */
  dynamicClientScopes: ReadonlySet<string>;
}

export interface FieldProblem { field: string; message: string }

/**
 * Refuses what the server does not support or would not honour, naming the
 * field: a registration that looks accepted but silently grants less (or more)
 * than it says is how misconfigurations go unnoticed.
 */
export function registrationProblems(input: RegistrationInput, offer: Offer): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const grantType of input.grantTypes) {
    if (!(REGISTRABLE_GRANT_TYPES as readonly string[]).includes(grantType)) {
      problems.push({ field: 'grant_types', message: `"${grantType}" is not supported; use ${REGISTRABLE_GRANT_TYPES.join(', ')}` });
    }
  }
  if (input.grantTypes.includes('client_credentials') && input.public) {
    problems.push({ field: 'grant_types', message: 'client_credentials is only for confidential clients: a public client has no credentials (RFC 6749 §4.4)' });
  }
  if (input.grantTypes.includes('password') && !input.firstParty) {
    problems.push({ field: 'grant_types', message: 'the password grant is only for first-party clients (set first_party)' });
  }
  for (const scope of input.scopes ?? []) {
    if (!isReservedScope(scope) && !offer.resourceScopes.has(scope)) {
      problems.push({ field: 'scopes', message: `"${scope}" is offered by no resource server and is not an OpenID Connect scope` });
    }
  }
  const exchanges = input.grantTypes.includes('urn:ietf:params:oauth:grant-type:token-exchange');
  if (exchanges && input.public) {
    problems.push({ field: 'grant_types', message: 'token exchange is only for confidential clients: a public client proves nothing about who exchanges' });
  }
  for (const identifier of input.tokenExchangeAudiences ?? []) {
    if (!offer.resources.has(identifier)) {
      problems.push({ field: 'token_exchange_audiences', message: `"${identifier}" is not a registered resource server` });
    }
  }
  // a policy the client cannot use says more than it grants: refused rather than stored
  if (!exchanges && input.tokenExchangeAudiences?.length) {
    problems.push({ field: 'token_exchange_audiences', message: 'only for a client registered for urn:ietf:params:oauth:grant-type:token-exchange' });
  }
  if (!exchanges && input.tokenExchangeImpersonation) {
    problems.push({ field: 'token_exchange_impersonation', message: 'only for a client registered for urn:ietf:params:oauth:grant-type:token-exchange' });
  }
  for (const identifier of input.introspectFor ?? []) {
    if (!offer.resources.has(identifier)) {
      problems.push({ field: 'introspect_for', message: `"${identifier}" is not a registered resource server` });
    }
  }
  return problems;
}
