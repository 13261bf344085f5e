// The scope rule, as the security tests check it on what a server issued:
// issued ⊆ the client's allow-list ∩ what the audience offers (OpenID Connect
// scopes on the ID token / userinfo side), ⊆ what was asked for; `admin` only
// with an explicit grant (allow-list), by client_credentials, for the admin
// resource; a refresh token only with offline_access allowed; ID token and
// userinfo claims only of allowed scopes.
import { decodeJwt } from 'jose';
import { CLAIMS_BY_SCOPE } from '../../src/accounts/index.ts';
import { OIDC_SCOPES } from '../../src/clients/oidc-scopes.ts';
import type { TokenResponse } from '../support/oauth.ts';

/** What one request produced: tokens, or a refusal (where, and what). */
export type Outcome = { tokens: TokenResponse['body'] } | { refused: string };

export const words = (scope: unknown): string[] => (typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []);

export interface IssueContext {
  /** the server's base URL (userinfo is asked what it discloses) */
  baseUrl: string;
  /** the admin API's resource identifier */
  adminResource: string;
  /** scopes each known resource server offers, by identifier */
  resourceScopes: ReadonlyMap<string, readonly string[]>;
  /** the client's allow-list as registered; absent means nothing, so pass [] */
  allowList: readonly string[];
  grant: string;
  /** the scope parameter of the request (empty: none, the server's default applies) */
  requested: string;
  /** a client without credentials (token_endpoint_auth_method none) */
  publicClient?: boolean;
}

/** A refusal is a 4xx OAuth error, never a 5xx or a body without `error`. */
export function refusalOf(where: string, status: number, body: { error?: unknown }): Outcome {
  if (status >= 500 || typeof body.error !== 'string') return { refused: `VIOLATION ${where} answered ${status}` };
  return { refused: `${where} ${status} ${body.error}` };
}

/** Claims only of allowed scopes (sub belongs to openid). */
export function claimViolations(where: string, claims: Record<string, unknown>, allowed: ReadonlySet<string>): string[] {
  return Object.entries(CLAIMS_BY_SCOPE).flatMap(([scope, names]) => (allowed.has(scope) ? [] : names
    .filter((name) => claims[name] !== undefined)
    .map((name) => `${where} carries "${name}" without "${scope}" allowed`)));
}

/** Everything wrong with one outcome; an empty list means refused or narrowed. */
export async function issuedScopeViolations(outcome: Outcome, context: IssueContext): Promise<string[]> {
  if ('refused' in outcome) return outcome.refused.startsWith('VIOLATION') ? [outcome.refused] : [];
  const found: string[] = [];
  const allowed = new Set(context.allowList);
  const { tokens } = outcome;
  const jwt = tokens.access_token && tokens.access_token.split('.').length === 3 ? decodeJwt(tokens.access_token) : undefined;
  const audiences = jwt ? ([jwt.aud].flat().filter(Boolean) as string[]) : [];
  const issued = new Set([...words(tokens.scope), ...words(jwt?.scope)]);
  const asked = new Set(words(context.requested));
  // RFC 6749 §4.4: client_credentials only for a client that authenticates; a public one has nothing to prove
  if (context.grant === 'client_credentials' && context.publicClient && tokens.access_token) found.push('client_credentials token issued to a public client (no authentication)');

  for (const scope of issued) {
    if (!allowed.has(scope)) found.push(`"${scope}" issued, not in the allow-list`);
    // no scope asked for: the defaults, which the allow-list check above bounds
    if (asked.size && !asked.has(scope)) found.push(`"${scope}" issued, not requested`);
    if (OIDC_SCOPES.includes(scope)) continue;
    // a resource scope: the token's audience must offer it
    if (scope === 'admin') {
      if (context.grant !== 'client_credentials' || !audiences.includes(context.adminResource)) {
        found.push(`"admin" issued by ${context.grant} for audience ${JSON.stringify(audiences)}`);
      }
    } else if (!audiences.some((audience) => context.resourceScopes.get(audience)?.includes(scope))) {
      found.push(`"${scope}" issued for audience ${JSON.stringify(audiences)}, which does not offer it`);
    }
  }
  if (jwt && words(jwt.scope).some((scope) => OIDC_SCOPES.includes(scope) && !allowed.has(scope))) found.push('access token carries OIDC scopes outside the allow-list');
  if (tokens.refresh_token && !allowed.has('offline_access')) found.push('refresh token issued without offline_access allowed');
  if (tokens.id_token) {
    if (!allowed.has('openid')) found.push('ID token issued without openid allowed');
    found.push(...claimViolations('ID token', decodeJwt(tokens.id_token), allowed));
  }
  // an access token for userinfo (no resource server's audience): what does userinfo disclose?
  if (tokens.access_token && !audiences.length && issued.has('openid')) {
    const res = await fetch(`${context.baseUrl}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    if (res.status === 200) found.push(...claimViolations('userinfo', await res.json() as Record<string, unknown>, allowed));
  }
  return found;
}
