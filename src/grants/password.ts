import type { default as Provider, Client, FindAccount, KoaContextWithOIDC, ResourceServer, TokenEndpointGrantContext } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { CredentialCheck } from '../accounts/service.ts';
import { HashingOverloadedError } from '../accounts/password-hashing.ts';
import { OIDC_SCOPES } from '../clients/oidc-scopes.ts';
import { allowedScopes, isFirstParty } from '../clients/index.ts';

/*
 * The resource owner password credentials grant (RFC 6749 §4.3), for trusted
 * first-party apps only. oidc-provider runs client authentication, the client's
 * grant_types check and scope syntax before this handler; everything a built-in
 * grant gets from the provider's internal helpers (resource resolution, token
 * issuance) is done here with the provider's public models.
 */

export const PASSWORD_GRANT_TYPE = 'password';
const PARAMETERS = ['username', 'password', 'scope', 'resource'];

// Bounds what reaches the password hasher (as on the login page).
const MAX_USERNAME_LENGTH = 256;
const MAX_PASSWORD_LENGTH = 1024;

export interface PasswordGrantDependencies {
  /** The accounts module's check: brute-force guard, constant-time failures, hash upgrades. */
  verifyCredentials(username: string, password: string, context: { ip: string }): Promise<CredentialCheck>;
  /** The provider's findAccount (disabled accounts do not exist for it). */
  findAccount: FindAccount;
  /** The provider's features.resourceIndicators.getResourceServerInfo. */
  getResourceServerInfo(ctx: KoaContextWithOIDC, indicator: string, client: Client): Promise<ResourceServer>;
  /**
   * As the provider's conformIdTokenClaims (Tessera: true): when the access
   * token can be used at userinfo, the ID token carries no scope claims.
   */
  conformIdTokenClaims?: boolean;
}

/** 429: the account or the address is locked out for a while. */
class TooManyAttempts extends errors.OIDCProviderError {
  constructor(retryAfterSeconds: number) {
    super(429, 'too_many_attempts');
    this.error_description = `too many failed sign-in attempts; try again in ${retryAfterSeconds} ${retryAfterSeconds === 1 ? 'second' : 'seconds'}`;
  }
}

/** 503: password hashing is at capacity. Exposed, unlike other 5xx: the client should retry. */
class HashingBusy extends errors.OIDCProviderError {
  constructor() {
    super(503, 'temporarily_unavailable');
    this.error_description = 'the server is busy; try again shortly';
    this.expose = true;
  }
}

const epochSeconds = () => Math.floor(Date.now() / 1000);

const stringParam = (value: unknown): string => (typeof value === 'string' ? value : '');

/** The `resource` parameter: at most one absolute URI without a fragment (RFC 8707). */
function requestedResource(value: unknown): string | undefined {
  const values = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string' && v !== '');
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new errors.InvalidTarget('only a single resource indicator value is supported for this grant type');
  const href = URL.parse(values[0])?.href;
  if (!href) throw new errors.InvalidTarget('resource indicator must be an absolute URI');
  if (href.includes('#')) throw new errors.InvalidTarget('resource indicator must not contain a fragment component');
  return values[0];
}

/**
 * Sender-constrained tokens are not offered by this grant: a client that
 * requires them, or sends a DPoP proof, is told so instead of silently getting
 * a bearer token.
 */
function refuseSenderConstraints(ctx: KoaContextWithOIDC, client: Client): void {
  if (ctx.get('dpop') || (client as unknown as { dpopBoundAccessTokens?: boolean }).dpopBoundAccessTokens) {
    throw new errors.InvalidRequest('DPoP is not supported with grant_type=password');
  }
}

async function checkCredentials(ctx: KoaContextWithOIDC, deps: PasswordGrantDependencies, username: string, password: string): Promise<string> {
  let check: CredentialCheck;
  if (username.length > MAX_USERNAME_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    check = { ok: false, reason: 'invalid' };
  } else {
    try {
      check = await deps.verifyCredentials(username, password, { ip: ctx.ip });
    } catch (error) {
      if (!(error instanceof HashingOverloadedError)) throw error;
      ctx.set('Retry-After', String(error.retryAfterSeconds));
      throw new HashingBusy();
    }
  }
  if (check.ok) return check.accountId;
  if (check.reason === 'locked') {
    const seconds = Math.max(1, Math.ceil(check.retryAfterSeconds));
    ctx.set('Retry-After', String(seconds));
    throw new TooManyAttempts(seconds);
  }
  // One answer for unknown users, disabled users and wrong passwords alike.
  throw new errors.InvalidGrant();
}

function createPasswordGrantHandler(deps: PasswordGrantDependencies) {
  const conformIdTokenClaims = deps.conformIdTokenClaims ?? true;

  return async function passwordGrant(ctx: TokenEndpointGrantContext): Promise<void> {
    const { client, params, provider } = ctx.oidc;
    if (!isFirstParty(client)) throw new errors.UnauthorizedClient('the password grant is only for first-party clients');
    refuseSenderConstraints(ctx, client);

    const username = stringParam(params.username).trim();
    const password = stringParam(params.password);
    if (!username) throw new errors.InvalidRequest("missing required parameter 'username'");
    if (!password) throw new errors.InvalidRequest("missing required parameter 'password'");

    // The request is checked in full before the password is: a malformed one
    // costs no hashing and no failed attempt.
    const indicator = requestedResource(params.resource);
    const resourceServer = indicator
      ? new provider.ResourceServer(indicator, await deps.getResourceServerInfo(ctx, indicator, client))
      : undefined;

    const accountId = await checkCredentials(ctx, deps, username, password);
    const account = await deps.findAccount(ctx, accountId);
    if (!account) throw new errors.InvalidGrant();
    ctx.oidc.entity('Account', account);
    const authTime = epochSeconds();

    // Scope: bounded by the client's allow-list; resource scopes by what the
    // resource server offers this client (getResourceServerInfo applies the list).
    const requested = [...new Set(stringParam(params.scope).split(' ').filter(Boolean))];
    const oidcScopes = allowedScopes(requested.filter((scope) => OIDC_SCOPES.includes(scope)), client);
    const resourceScopes = resourceServer ? requested.filter((scope) => resourceServer.scopes.has(scope)) : [];

    // Every token hangs off a saved Grant, so revoking the grant revokes them all.
    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    if (oidcScopes.length) grant.addOIDCScope(oidcScopes);
    if (indicator && resourceScopes.length) grant.addResourceScope(indicator, resourceScopes);
    const grantId = await grant.save();
    ctx.oidc.entity('Grant', grant);

    const at = new provider.AccessToken({ accountId, client, grantId, gty: PASSWORD_GRANT_TYPE });
    if (resourceServer) {
      at.resourceServer = resourceServer; // its format (JWT or opaque), lifetime and audience
      at.scope = resourceScopes.join(' ');
    } else {
      at.scope = oidcScopes.join(' '); // an opaque token for userinfo
    }
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    // As the provider's issueRefreshToken: offline access granted, and a client that may refresh.
    let refreshToken: string | undefined;
    if (oidcScopes.includes('offline_access') && client.grantTypeAllowed('refresh_token')) {
      const rt = new provider.RefreshToken({
        accountId,
        amr: ['pwd'],
        authTime,
        // refreshed ID tokens keep the original auth_time (OIDC Core 12.2)
        claims: { id_token: { auth_time: { essential: true } } },
        client,
        grantId,
        gty: PASSWORD_GRANT_TYPE,
        resource: indicator,
        rotations: 0,
        scope: [...oidcScopes, ...resourceScopes].join(' '),
      });
      ctx.oidc.entity('RefreshToken', rt);
      refreshToken = await rt.save();
    }

    let idToken: string | undefined;
    if (oidcScopes.includes('openid')) {
      const scope = conformIdTokenClaims && !at.aud ? 'openid' : oidcScopes.join(' ');
      const claims = await account.claims('id_token', scope, {}, []);
      const token = new provider.IdToken({ ...claims, sub: account.accountId }, { ctx });
      Object.assign(token, { scope, mask: {}, rejected: [] });
      token.set('auth_time', authTime);
      token.set('amr', ['pwd']);
      idToken = await token.issue({ use: 'idtoken' });
    }

    ctx.body = Object.fromEntries(Object.entries({
      access_token: accessToken,
      expires_in: at.expiration,
      id_token: idToken,
      refresh_token: refreshToken,
      scope: at.scope || undefined,
      token_type: at.tokenType,
    }).filter(([, value]) => value !== undefined));
  };
}

/**
 * oidc-provider answers a client whose grant_types lack the requested grant
 * with invalid_request; for this grant RFC 6749's unauthorized_client is the
 * right answer (and the one a non-first-party client gets too).
 */
function answerUnauthorizedClient(provider: Provider): void {
  provider.use(async (ctx, next) => {
    await next();
    const oidc = (ctx as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
    const body = ctx.body as { error?: string } | undefined;
    if (
      oidc?.route === 'token'
      && oidc.params?.grant_type === PASSWORD_GRANT_TYPE
      && oidc.client
      && !oidc.client.grantTypeAllowed(PASSWORD_GRANT_TYPE)
      && ctx.status === 400
      && body?.error === 'invalid_request'
    ) {
      ctx.body = { error: 'unauthorized_client', error_description: 'the client is not allowed to use the password grant' };
    }
  });
}

/**
 * Registers grant_type=password. Call it right after creating the provider:
 * oidc-provider only accepts grant types it knows, so a client listing
 * `password` fails validation until this has run.
 */
export function registerPasswordGrant(provider: Provider, deps: PasswordGrantDependencies): void {
  // `resource` may repeat in the request so that the answer can be invalid_target
  provider.registerGrantType(PASSWORD_GRANT_TYPE, createPasswordGrantHandler(deps), PARAMETERS, ['resource']);
  answerUnauthorizedClient(provider);
}
