import type { default as Provider, Client, KoaContextWithOIDC, ResourceServer, TokenEndpointGrantContext } from 'oidc-provider';
import { errors } from 'oidc-provider';

/*
 * OAuth 2.0 Token Exchange (RFC 8693): a service that received a person's
 * access token (as an API, or as the client it was issued to) exchanges it
 * for one aimed at another API, with the same or fewer scopes, on the same
 * person's behalf. The rules (docs/security.md, "Token exchange"):
 *
 * - who may call: a confidential client registered for the grant type;
 * - which audiences: only those in the client's `token_exchange_audiences`
 *   (absent: none), each a registered resource server;
 * - which subject tokens: Tessera's own live user access tokens that the
 *   client may introspect — issued to it, or for an audience it introspects
 *   for (`introspect_for`), i.e. tokens it received as an API. A token it
 *   merely found is refused like a forged one;
 * - scopes: never wider than the subject token's, the target's and the
 *   client's allow-list;
 * - delegation by default: the new token says who acts (`act`, nested with any
 *   earlier `act`); impersonation (no `act` added) only for a client with
 *   `token_exchange_impersonation`;
 * - the new token hangs off the subject token's grant, so revoking the grant
 *   or the person revokes it too, and it lives no longer than the subject
 *   token. No refresh token.
 */

export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

const PARAMETERS = ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'resource', 'audience', 'scope'];

/** One answer for every subject token that is not acceptable: forged, foreign, expired, revoked or not the caller's to exchange. */
export const SUBJECT_TOKEN_REFUSED = 'subject_token is not valid or may not be exchanged by this client';
const ACTOR_TOKEN_REFUSED = "actor_token is not valid or is not the client's own";

// Tokens are far shorter than this; anything longer is refused before any lookup.
const MAX_TOKEN_LENGTH = 8192;

/** What a JWT access token verifies to (jwt-access-tokens.ts verify). */
export interface VerifiedJwtClaims {
  jti: string; exp: number; iat: number; client_id: string;
  sub?: string; aud?: string | string[]; scope?: unknown; cnf?: unknown; act?: unknown;
}

export interface TokenExchangeDependencies {
  /** The provider's features.resourceIndicators.getResourceServerInfo (the client's allow-list applied). */
  getResourceServerInfo(ctx: KoaContextWithOIDC, indicator: string, client: Client): Promise<ResourceServer>;
  /** A JWT access token this server issued, signature, issuer, type and expiry checked; undefined otherwise. */
  verifyJwt(token: string): Promise<VerifiedJwtClaims | undefined>;
  /** The introspection rule (src/provider/introspection.ts): the token's own client or an introspector for its audience. */
  mayIntrospect(caller: Client, token: { clientId?: string; aud?: string | string[]; resourceServer?: { audience?: string } }): boolean;
  /** Whether the token's client still exists and the token is not older than its current credentials. */
  honouredByItsClient(provider: Pick<Provider, 'Client'>, token: { clientId?: string; iat?: number }, caller?: Client): Promise<boolean>;
  /** JWTs are never stored: the denylist, which JWTs each grant issued, and the grants of an account. */
  tokenState: {
    denylist: { has(jti: string): Promise<boolean> };
    issuedJwts: { list(grantId: string): Promise<Array<{ jti: string }>> };
    grants: { ofAccount(accountId: string): Promise<string[]> };
  };
  /** every exchange, issued or refused, is an audit event */
  audit?: { enqueue(event: { type: string; actor: string | null; subject?: string | null; clientId?: string | null; details?: Record<string, unknown> }): void };
}

/** A client's exchange policy, from its metadata: absent means none. */
export const tokenExchangeAudiencesOf = (client: unknown): string[] => {
  const list = (client as { token_exchange_audiences?: unknown } | undefined)?.token_exchange_audiences;
  return Array.isArray(list) ? list.filter((v): v is string => typeof v === 'string') : [];
};
export const mayImpersonate = (client: unknown): boolean => (client as { token_exchange_impersonation?: unknown } | undefined)?.token_exchange_impersonation === true;

/** What the audit log records of an exchange, filled in as the request is read (never a token). */
interface ExchangeAudit {
  audience?: string;
  subject?: string;
  subject_client_id?: string;
  requested_scope?: string;
  scope?: string;
  mode?: 'delegation' | 'impersonation';
  actor?: string;
}

const STATE_KEY = 'tesseraTokenExchange';

const stringParam = (value: unknown): string => (typeof value === 'string' ? value : '');
const epochSeconds = () => Math.floor(Date.now() / 1000);
const isJwt = (token: string) => token.split('.').length === 3;

/** `resource` or `audience`: at most one value each, and one target in all. */
function requestedTarget(params: Record<string, unknown>): string {
  const values = new Set<string>();
  for (const name of ['resource', 'audience']) {
    const raw = params[name];
    const given = (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === 'string' && v !== '');
    if (given.length > 1) throw new errors.InvalidTarget(`only a single ${name} value is supported for token exchange`);
    if (given[0]) values.add(given[0]);
  }
  // absent means nothing: there is no default audience to exchange for
  if (values.size === 0) throw new errors.InvalidTarget('a target is required: resource or audience');
  if (values.size > 1) throw new errors.InvalidTarget('resource and audience name different targets');
  const [target] = values;
  const href = URL.parse(target)?.href;
  if (!href || target.includes('#')) throw new errors.InvalidTarget('the target must be an absolute URI without a fragment');
  return target;
}

/** A token this server issued for a person, as far as an exchange needs it. */
interface UserToken {
  accountId: string;
  clientId: string;
  grantId: string;
  aud?: string | string[];
  scopes: Set<string>;
  exp: number;
  act?: Record<string, unknown>;
}

const scopesOf = (scope: unknown) => new Set(typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []);
const actOf = (value: unknown) => (value && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined);

/**
 * The grant a JWT access token was issued under. JWTs carry no grant id; the
 * grants of the token's person are searched for the one that recorded its jti
 * (src/provider/index.ts records every JWT under its grant so that revoking
 * the grant can denylist it). A JWT found under no live grant of its
 * person — client_credentials, or a grant since revoked — has none.
 */
async function grantOfJwt(provider: Provider, deps: TokenExchangeDependencies, claims: VerifiedJwtClaims & { sub: string }): Promise<string | undefined> {
  const grantIds = await deps.tokenState.grants.ofAccount(claims.sub);
  const recorded = await Promise.all(grantIds.map(async (grantId) => (await deps.tokenState.issuedJwts.list(grantId)).some(({ jti }) => jti === claims.jti)));
  const grantId = grantIds.find((_, i) => recorded[i]);
  if (!grantId) return undefined;
  // The grant's client is the JWT's own, or — for a token that was itself
  // exchanged — the client of the token it was exchanged from; the link is
  // the jti the server recorded under the grant when it issued the JWT.
  const grant = await provider.Grant.find(grantId);
  return grant && grant.accountId === claims.sub ? grantId : undefined;
}

/**
 * A live access token of a person, issued by this server, JWT or opaque:
 * undefined for anything else (forged, foreign, expired, revoked, a client's
 * own client_credentials token, one of a deleted or re-keyed client, a
 * sender-constrained one that the caller could not present with its key).
 */
async function readUserToken(ctx: TokenEndpointGrantContext, deps: TokenExchangeDependencies, value: string, audit: ExchangeAudit): Promise<UserToken | undefined> {
  const { provider, client } = ctx.oidc;
  if (value.length > MAX_TOKEN_LENGTH) return undefined;
  if (isJwt(value)) {
    const claims = await deps.verifyJwt(value);
    if (!claims || typeof claims.sub !== 'string' || claims.cnf !== undefined) return undefined;
    // whose token it is (it verified), for the audit of a refusal too: a client trying others' tokens is worth noticing
    Object.assign(audit, { subject: claims.sub, subject_client_id: claims.client_id });
    // Not the caller's to exchange: refused before any lookup, so how long the
    // answer takes says nothing about whether the token's grant still lives.
    if (!deps.mayIntrospect(client, { clientId: claims.client_id, aud: claims.aud })) return undefined;
    if (await deps.tokenState.denylist.has(claims.jti)) return undefined;
    if (!(await deps.honouredByItsClient(provider, { clientId: claims.client_id, iat: claims.iat }, client))) return undefined;
    const grantId = await grantOfJwt(provider, deps, { ...claims, sub: claims.sub });
    if (!grantId) return undefined;
    return { accountId: claims.sub, clientId: claims.client_id, grantId, aud: claims.aud, scopes: scopesOf(claims.scope), exp: claims.exp, act: actOf(claims.act) };
  }
  const token = await provider.AccessToken.find(value);
  if (!token?.isValid || !token.accountId || !token.grantId || !token.clientId || token.isSenderConstrained()) return undefined;
  Object.assign(audit, { subject: token.accountId, subject_client_id: token.clientId });
  if (!deps.mayIntrospect(client, { clientId: token.clientId, aud: token.aud ?? token.resourceServer?.audience })) return undefined;
  if (!(await deps.honouredByItsClient(provider, { clientId: token.clientId, iat: token.iat }, client))) return undefined;
  // as introspection: the grant must live and be the token's own
  const grant = await provider.Grant.find(token.grantId);
  if (!grant || grant.clientId !== token.clientId || grant.accountId !== token.accountId) return undefined;
  const aud = token.aud ?? token.resourceServer?.audience;
  return {
    accountId: token.accountId, clientId: token.clientId, grantId: token.grantId, aud: aud as string | string[] | undefined,
    scopes: scopesOf(token.scope), exp: token.exp as number, act: actOf((token.extra as Record<string, unknown> | undefined)?.act),
  };
}

/** Who acts: the requesting client, or the subject of its actor_token (which must be one of its own tokens). */
async function readActor(ctx: TokenEndpointGrantContext, deps: TokenExchangeDependencies): Promise<string | undefined> {
  const { params, client, provider } = ctx.oidc;
  const actorToken = stringParam(params.actor_token);
  const actorTokenType = stringParam(params.actor_token_type);
  if (!actorToken && !actorTokenType) return undefined;
  if (!actorToken) throw new errors.InvalidRequest("actor_token_type is given without 'actor_token'");
  if (!actorTokenType) throw new errors.InvalidRequest("missing required parameter 'actor_token_type'");
  if (actorTokenType !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest(`unsupported actor_token_type; use ${ACCESS_TOKEN_TYPE}`);
  if (actorToken.length > MAX_TOKEN_LENGTH) throw new errors.InvalidRequest(ACTOR_TOKEN_REFUSED);
  if (isJwt(actorToken)) {
    const claims = await deps.verifyJwt(actorToken);
    if (!claims || claims.client_id !== client.clientId || (await deps.tokenState.denylist.has(claims.jti))
      || !(await deps.honouredByItsClient(provider, { clientId: claims.client_id, iat: claims.iat }, client))) {
      throw new errors.InvalidRequest(ACTOR_TOKEN_REFUSED);
    }
    return typeof claims.sub === 'string' ? claims.sub : client.clientId;
  }
  const token = await provider.AccessToken.find(actorToken) ?? await provider.ClientCredentials.find(actorToken);
  if (!token?.isValid || token.clientId !== client.clientId
    || !(await deps.honouredByItsClient(provider, { clientId: token.clientId, iat: token.iat }, client))) {
    throw new errors.InvalidRequest(ACTOR_TOKEN_REFUSED);
  }
  return (token as { accountId?: string }).accountId ?? client.clientId;
}

/**
 * Scopes: a subset of what the subject token holds that the target offers
 * this client (getResourceServerInfo applied its allow-list). Asked for
 * explicitly, every one must be there (never widened, never silently
 * dropped); not asked for, all of them.
 */
function exchangedScopes(requested: string[], subject: UserToken, offered: Set<string>): string[] {
  const available = [...subject.scopes].filter((scope) => offered.has(scope));
  if (requested.length) {
    const refused = requested.filter((scope) => !available.includes(scope));
    if (refused.length) throw new errors.InvalidScope(`scope not available for this exchange: ${refused.join(' ')}`, refused.join(' '));
    return requested;
  }
  if (!available.length) throw new errors.InvalidScope('the subject token holds no scope the target offers this client', '');
  return available;
}

function buildHandler(deps: TokenExchangeDependencies) {
  return async function tokenExchangeHandler(ctx: TokenEndpointGrantContext): Promise<void> {
    const { client, params, provider } = ctx.oidc;
    const audit: ExchangeAudit = {};
    ctx.state[STATE_KEY] = audit;

    // The provider authenticated the client and checked it is registered for
    // the grant; a public client proves nothing about who is exchanging.
    if (client.clientAuthMethod === 'none') throw new errors.UnauthorizedClient('token exchange is only for confidential clients');
    if (ctx.get('dpop') || (client as unknown as { dpopBoundAccessTokens?: boolean }).dpopBoundAccessTokens
      || (client as unknown as { tlsClientCertificateBoundAccessTokens?: boolean }).tlsClientCertificateBoundAccessTokens) {
      throw new errors.InvalidRequest('sender-constrained tokens are not supported with token exchange');
    }

    const requestedType = stringParam(params.requested_token_type);
    if (requestedType && requestedType !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest(`unsupported requested_token_type; only ${ACCESS_TOKEN_TYPE} is issued`);
    const subjectToken = stringParam(params.subject_token);
    const subjectTokenType = stringParam(params.subject_token_type);
    if (!subjectToken) throw new errors.InvalidRequest("missing required parameter 'subject_token'");
    if (!subjectTokenType) throw new errors.InvalidRequest("missing required parameter 'subject_token_type'");
    if (subjectTokenType !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest(`unsupported subject_token_type; use ${ACCESS_TOKEN_TYPE}`);

    // the policy first: a client with none learns nothing about any token
    const target = requestedTarget(params);
    audit.audience = target;
    const requested = [...new Set(stringParam(params.scope).split(' ').filter(Boolean))];
    if (requested.length) audit.requested_scope = requested.join(' ');
    if (!tokenExchangeAudiencesOf(client).includes(target)) throw new errors.InvalidTarget('the client may not exchange tokens for this audience');
    const info = await deps.getResourceServerInfo(ctx, target, client);
    // An exchanged token hangs off the subject token's grant (of another
    // client): only a JWT, revoked by denylisting, can; an opaque token's
    // revocation would take the whole grant down with it.
    if (info.accessTokenFormat !== 'jwt') throw new errors.InvalidTarget('token exchange issues JWT access tokens; this resource server uses opaque tokens');

    const subject = await readUserToken(ctx, deps, subjectToken, audit);
    if (!subject || !deps.mayIntrospect(client, { clientId: subject.clientId, aud: subject.aud })) throw new errors.InvalidRequest(SUBJECT_TOKEN_REFUSED);
    const remaining = subject.exp - epochSeconds();
    if (remaining <= 0) throw new errors.InvalidRequest(SUBJECT_TOKEN_REFUSED);

    const actor = await readActor(ctx, deps);
    const impersonation = !actor && mayImpersonate(client);
    // RFC 8693 §4.1: the current actor outermost, earlier ones nested inside
    const act = impersonation ? subject.act : { sub: actor ?? client.clientId, ...(subject.act ? { act: subject.act } : {}) };
    Object.assign(audit, { mode: impersonation ? 'impersonation' : 'delegation', actor: impersonation ? undefined : (actor ?? client.clientId) });

    const scopes = exchangedScopes(requested, subject, scopesOf(info.scope));
    audit.scope = scopes.join(' ');

    const at = new provider.AccessToken({
      accountId: subject.accountId,
      client,
      grantId: subject.grantId,
      gty: TOKEN_EXCHANGE_GRANT_TYPE,
      ...(act ? { extra: { act } } : {}),
    });
    at.resourceServer = new provider.ResourceServer(target, info);
    at.scope = scopes.join(' ');
    // no longer than the target's lifetime, nor than the token it replaces
    (at as unknown as { expiresIn: number }).expiresIn = Math.min(at.expiration, remaining);
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    deps.audit?.enqueue({
      type: 'token.exchanged', actor: client.clientId, subject: subject.accountId, clientId: client.clientId,
      details: { ...audit, grant_id: subject.grantId, expires_in: at.expiration },
    });
    ctx.body = {
      access_token: accessToken,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: at.expiration,
      scope: at.scope,
    };
  };
}

/**
 * Every refused exchange is audited, including those the provider refuses
 * before the handler runs (client authentication, a client not registered
 * for the grant), with what the handler had learnt of the request by then.
 */
function recordRefusals(provider: Provider, audit: NonNullable<TokenExchangeDependencies['audit']>): void {
  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: Error & { error?: string; error_description?: string }) => {
    if (ctx.oidc?.params?.grant_type !== TOKEN_EXCHANGE_GRANT_TYPE) return;
    const details = (ctx.state?.[STATE_KEY] ?? {}) as ExchangeAudit;
    const clientId = ctx.oidc.client?.clientId ?? null;
    audit.enqueue({
      type: 'token.exchange_refused', actor: clientId, subject: details.subject ?? null, clientId,
      details: { ...details, error: error.error ?? 'server_error', error_description: error.error_description },
    });
  });
}

/** grant_type=urn:ietf:params:oauth:grant-type:token-exchange as oidc-provider's registerGrantType takes it. */
export const tokenExchangeGrant = {
  type: TOKEN_EXCHANGE_GRANT_TYPE,
  parameters: PARAMETERS,
  /** may repeat so that the answer can be invalid_target rather than a generic duplicate refusal */
  repeatableParameters: ['resource', 'audience'],
  buildHandler,
  recordRefusals,
} as const;
