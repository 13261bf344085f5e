import { hash, type X509Certificate } from 'node:crypto';
import type { default as Provider, Client, FindAccount, KoaContextWithOIDC, ResourceServer, TokenEndpointGrantContext } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { HashingOverloadedError, type CredentialCheck } from '../accounts/index.ts';
import { allowedScopes, isFirstParty, OIDC_SCOPES } from '../clients/index.ts';
import { authenticationLevel, NO_SECOND_FACTORS, type AuthenticationLevel, type MfaService } from '../mfa/index.ts';

/*
 * The resource owner password credentials grant (RFC 6749 §4.3), for trusted
 * first-party apps only. oidc-provider runs client authentication, the client's
 * grant_types check and scope syntax before this handler; everything a built-in
 * grant gets from the provider's internal helpers (resource resolution, token
 * issuance) is done here with the provider's public models.
 */

export const PASSWORD_GRANT_TYPE = 'password';
const PARAMETERS = ['username', 'password', 'scope', 'resource', 'otp'];

// Bounds what reaches the password hasher (as on the login page).
const MAX_USERNAME_LENGTH = 256;
const MAX_PASSWORD_LENGTH = 1024;

/*
 * `otp`: a TOTP code, or a recovery code, of an account with TOTP on. Codes
 * are short and typed by people (digits, letters, groups with dashes or
 * spaces): anything longer or of other characters cannot be one, and is
 * refused before the password is checked (it costs no hashing and no attempt).
 */
const OTP_SHAPE = /^[A-Za-z0-9 -]{1,64}$/;

/** The answers of the second step, as documented (docs/operations.md, "The password grant and second factors"). */
export const PASSWORD_GRANT_REFUSALS = {
  otpRequired: 'a one-time code (otp) is required for this account',
  otpInvalid: 'the one-time code is not valid',
  passkeyOnly: 'this account signs in with a passkey; use the authorization code flow',
  mfaRequired: 'multi-factor authentication is required; set up two-step verification on /account',
} as const;

export interface PasswordGrantDependencies {
  /** The accounts module's check: brute-force guard, constant-time failures, hash upgrades. */
  verifyCredentials(username: string, password: string, context: { ip: string; clientId?: string; via?: 'password_grant' }): Promise<CredentialCheck>;
  /** The provider's findAccount (disabled accounts do not exist for it). */
  findAccount: FindAccount;
  /** The provider's features.resourceIndicators.getResourceServerInfo. */
  getResourceServerInfo(ctx: KoaContextWithOIDC, indicator: string, client: Client): Promise<ResourceServer>;
  /**
   * As the provider's conformIdTokenClaims (Tessera: true): when the access
   * token can be used at userinfo, the ID token carries no scope claims.
   */
  conformIdTokenClaims?: boolean;
  /**
   * The second factors (src/mfa): what an account has enrolled, and its codes
   * checked (a wrong one counts toward the same lockout as a wrong password).
   * Required: a grant that could not ask would let enrolled people skip their
   * second factor.
   */
  mfa: Pick<MfaService, 'factorsOf' | 'verifyCode'>;
  /**
   * The request's client certificate (mTLS, src/http/client-certificate.ts):
   * a client registered for certificate-bound tokens gets its access token
   * bound to it (cnf.x5t#S256), as from the provider's own grants. Absent: mTLS off.
   */
  certificateOf?: (req: KoaContextWithOIDC['req']) => X509Certificate | undefined;
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

/** 400 invalid_grant with one of the documented descriptions (PASSWORD_GRANT_REFUSALS). */
function refusedGrant(description: string): InstanceType<typeof errors.InvalidGrant> {
  const error = new errors.InvalidGrant();
  error.error_description = description;
  return error;
}

/** As for a locked password check: the same 429 whether a password or a code locked the account. */
function lockedOut(ctx: KoaContextWithOIDC, retryAfterSeconds: number): TooManyAttempts {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  ctx.set('Retry-After', String(seconds));
  return new TooManyAttempts(seconds);
}

/** A client that asks every sign-in for a second factor (its `require_mfa` metadata; absent means no). */
const clientRequiresMfa = (client: Client): boolean => (client as unknown as { require_mfa?: unknown }).require_mfa === true;

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

/**
 * The certificate a bound client's access token is bound to, checked before
 * the password is (as the provider's grants do, checkMtlsCert): a bound
 * client without one is refused, never given a bearer token. Undefined for a
 * client that is not bound.
 */
function boundCertificate(ctx: KoaContextWithOIDC, deps: PasswordGrantDependencies): X509Certificate | undefined {
  const client = ctx.oidc.client as unknown as { tlsClientCertificateBoundAccessTokens?: boolean } | undefined;
  if (!client?.tlsClientCertificateBoundAccessTokens) return undefined;
  const certificate = deps.certificateOf?.(ctx.req);
  if (!certificate) throw new errors.InvalidGrant('mutual TLS client certificate not provided');
  return certificate;
}

async function checkCredentials(ctx: KoaContextWithOIDC, deps: PasswordGrantDependencies, username: string, password: string): Promise<Extract<CredentialCheck, { ok: true }>> {
  let check: CredentialCheck;
  if (username.length > MAX_USERNAME_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    check = { ok: false, reason: 'invalid' };
  } else {
    try {
      check = await deps.verifyCredentials(username, password, { ip: ctx.ip, clientId: ctx.oidc.client?.clientId, via: 'password_grant' });
    } catch (error) {
      if (!(error instanceof HashingOverloadedError)) throw error;
      ctx.set('Retry-After', String(error.retryAfterSeconds));
      throw new HashingBusy();
    }
  }
  if (check.ok) return check;
  if (check.reason === 'locked') throw lockedOut(ctx, check.retryAfterSeconds);
  // One answer for unknown users, disabled users and wrong passwords alike.
  throw new errors.InvalidGrant();
}

/** The request, read and checked in full before the password is: a malformed one costs no hashing and no failed attempt. */
interface PasswordRequest {
  username: string;
  password: string;
  /** the one-time code sent (never logged or audited); undefined when none was */
  otp?: string;
  /** the `resource` asked for, and what it offers this client */
  resource?: { indicator: string; server: ResourceServerModel };
  requestedScopes: string[];
}

type ResourceServerModel = InstanceType<Provider['ResourceServer']>;
type Account = NonNullable<Awaited<ReturnType<FindAccount>>>;

async function readRequest(ctx: TokenEndpointGrantContext, deps: PasswordGrantDependencies): Promise<PasswordRequest> {
  const { client, params, provider } = ctx.oidc;
  if (!isFirstParty(client)) throw new errors.UnauthorizedClient('the password grant is only for first-party clients');
  refuseSenderConstraints(ctx, client);

  const username = stringParam(params.username).trim();
  const password = stringParam(params.password);
  if (!username) throw new errors.InvalidRequest("missing required parameter 'username'");
  if (!password) throw new errors.InvalidRequest("missing required parameter 'password'");
  // an empty otp is no otp; a malformed one is refused here, before any check (its value is not echoed)
  const otp = stringParam(params.otp).trim() || undefined;
  if (otp !== undefined && !OTP_SHAPE.test(otp)) throw new errors.InvalidRequest("parameter 'otp' is not a one-time code");

  const indicator = requestedResource(params.resource);
  const resource = indicator
    ? { indicator, server: new provider.ResourceServer(indicator, await deps.getResourceServerInfo(ctx, indicator, client)) }
    : undefined;
  const requestedScopes = [...new Set(stringParam(params.scope).split(' ').filter(Boolean))];
  return { username, password, otp, resource, requestedScopes };
}

/**
 * The second step, once the password was right (so nothing here tells anyone
 * who does not hold the password whether an account is enrolled):
 *
 * - TOTP on: the code is required, and checked by the MFA service (once per
 *   time step; a wrong one counts toward the password lockout; a locked
 *   account gets the lockout answer, as for a password).
 * - passkeys only: a passkey cannot be used at the token endpoint; the
 *   authorization code flow can.
 * - no second factor: refused only for a client that requires one.
 *
 * What was proven, as amr/acr for the ID token and refresh token.
 */
async function checkSecondFactor(ctx: TokenEndpointGrantContext, deps: PasswordGrantDependencies, password: Extract<CredentialCheck, { ok: true }>, otp: string | undefined): Promise<AuthenticationLevel> {
  const { accountId } = password;
  // the credential check has asked whether there is any second factor: which ones, only when there is
  const factors = password.secondFactorFollows ? await deps.mfa.factorsOf(accountId) : NO_SECOND_FACTORS;
  if (factors.totp) {
    if (otp === undefined) throw refusedGrant(PASSWORD_GRANT_REFUSALS.otpRequired);
    const check = await deps.mfa.verifyCode(accountId, otp, { ip: ctx.ip, clientId: ctx.oidc.client.clientId, via: 'password_grant' });
    if (check.ok) return authenticationLevel({ methods: ['pwd', 'otp'] });
    if (check.reason === 'locked') throw lockedOut(ctx, check.retryAfterSeconds);
    throw refusedGrant(PASSWORD_GRANT_REFUSALS.otpInvalid);
  }
  if (factors.passkeys > 0) throw refusedGrant(PASSWORD_GRANT_REFUSALS.passkeyOnly);
  if (clientRequiresMfa(ctx.oidc.client)) throw refusedGrant(PASSWORD_GRANT_REFUSALS.mfaRequired);
  // An `otp` sent for an account without TOTP is ignored, not refused: refusing
  // it would tell whoever holds the password which accounts are not enrolled
  // (and a client may well send one whenever its user typed one).
  return authenticationLevel({ methods: ['pwd'] });
}

/** The person behind the username, password and (when enrolled) code; or the answer for the failure. */
async function authenticate(ctx: TokenEndpointGrantContext, deps: PasswordGrantDependencies, request: PasswordRequest): Promise<{ account: Account; level: AuthenticationLevel }> {
  const password = await checkCredentials(ctx, deps, request.username, request.password);
  const { accountId } = password;
  const level = await checkSecondFactor(ctx, deps, password, request.otp);
  const account = await deps.findAccount(ctx, accountId);
  if (!account) throw new errors.InvalidGrant();
  ctx.oidc.entity('Account', account);
  return { account, level };
}

/**
 * The one scope rule: OIDC scopes bounded by the client's allow-list; resource
 * scopes by what the resource server offers this client (getResourceServerInfo
 * applied the list).
 */
function grantedScopes(request: PasswordRequest, client: Client): { oidc: string[]; resource: string[] } {
  return {
    oidc: allowedScopes(request.requestedScopes.filter((scope) => OIDC_SCOPES.includes(scope)), client),
    resource: request.resource ? request.requestedScopes.filter((scope) => request.resource!.server.scopes.has(scope)) : [],
  };
}

/** Every token hangs off a saved Grant, so revoking the grant revokes them all. */
async function saveGrant(ctx: TokenEndpointGrantContext, accountId: string, scopes: { oidc: string[]; resource: string[] }, indicator?: string): Promise<string> {
  const grant = new ctx.oidc.provider.Grant({ accountId, clientId: ctx.oidc.client.clientId });
  if (scopes.oidc.length) grant.addOIDCScope(scopes.oidc);
  if (indicator && scopes.resource.length) grant.addResourceScope(indicator, scopes.resource);
  const grantId = await grant.save();
  ctx.oidc.entity('Grant', grant);
  return grantId;
}

/** For the resource asked for (its format, lifetime and audience), else an opaque token for userinfo. */
async function issueAccessToken(ctx: TokenEndpointGrantContext, accountId: string, grantId: string, request: PasswordRequest, scopes: { oidc: string[]; resource: string[] }, certificate: X509Certificate | undefined) {
  const { client, provider } = ctx.oidc;
  const at = new provider.AccessToken({ accountId, client, grantId, gty: PASSWORD_GRANT_TYPE });
  if (certificate) at.setThumbprint('x5t', certificate);
  if (request.resource) {
    at.resourceServer = request.resource.server;
    at.scope = scopes.resource.join(' ');
  } else {
    at.scope = scopes.oidc.join(' ');
  }
  ctx.oidc.entity('AccessToken', at);
  return { at, value: await at.save() };
}

/** As the provider's issueRefreshToken: offline access granted, and a client that may refresh. */
async function issueRefreshToken(ctx: TokenEndpointGrantContext, accountId: string, grantId: string, authTime: number, level: AuthenticationLevel, request: PasswordRequest, scopes: { oidc: string[]; resource: string[] }, certificate: X509Certificate | undefined): Promise<string | undefined> {
  const { client, provider } = ctx.oidc;
  if (!scopes.oidc.includes('offline_access') || !client.grantTypeAllowed('refresh_token')) return undefined;
  const rt = new provider.RefreshToken({
    accountId,
    // refreshed ID tokens say what this sign-in proved
    acr: level.acr,
    amr: level.amr,
    authTime,
    // refreshed ID tokens keep the original auth_time (OIDC Core 12.2); acr and amr come with `openid` (src/provider/claims.ts)
    claims: { id_token: { auth_time: { essential: true } } },
    client,
    grantId,
    gty: PASSWORD_GRANT_TYPE,
    resource: request.resource?.indicator,
    rotations: 0,
    scope: [...scopes.oidc, ...scopes.resource].join(' '),
  });
  // as the provider's setRtBindings: a public client's refresh token is bound too (a confidential client's is bound by its authentication)
  if (certificate && client.clientAuthMethod === 'none') Object.assign(rt, { 'x5t#S256': hash('sha256', certificate.raw, 'base64url') });
  ctx.oidc.entity('RefreshToken', rt);
  return rt.save();
}

/**
 * With `openid`. As the provider's conformIdTokenClaims: when the access token
 * can be used at userinfo (it has no audience), the ID token carries no scope claims.
 */
async function issueIdToken(ctx: TokenEndpointGrantContext, account: Account, authTime: number, level: AuthenticationLevel, oidcScopes: string[], accessTokenHasAudience: boolean, conformIdTokenClaims: boolean): Promise<string | undefined> {
  if (!oidcScopes.includes('openid')) return undefined;
  const scope = conformIdTokenClaims && !accessTokenHasAudience ? 'openid' : oidcScopes.join(' ');
  const claims = await account.claims('id_token', scope, {}, []);
  const token = new ctx.oidc.provider.IdToken({ ...claims, sub: account.accountId }, { ctx });
  Object.assign(token, { scope, mask: {}, rejected: [] });
  token.set('auth_time', authTime);
  token.set('amr', level.amr);
  token.set('acr', level.acr);
  return token.issue({ use: 'idtoken' });
}

/** The token endpoint's handler for grant_type=password, built from its dependencies. */
function buildHandler(deps: PasswordGrantDependencies) {
  const conformIdTokenClaims = deps.conformIdTokenClaims ?? true;

  return async function passwordGrantHandler(ctx: TokenEndpointGrantContext): Promise<void> {
    const request = await readRequest(ctx, deps);
    const certificate = boundCertificate(ctx, deps);
    const { account, level } = await authenticate(ctx, deps, request);
    const authTime = epochSeconds();
    const scopes = grantedScopes(request, ctx.oidc.client);
    const grantId = await saveGrant(ctx, account.accountId, scopes, request.resource?.indicator);
    const { at, value: accessToken } = await issueAccessToken(ctx, account.accountId, grantId, request, scopes, certificate);
    const refreshToken = await issueRefreshToken(ctx, account.accountId, grantId, authTime, level, request, scopes, certificate);
    const idToken = await issueIdToken(ctx, account, authTime, level, scopes.oidc, !!at.aud, conformIdTokenClaims);

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
 * grant_type=password as oidc-provider's registerGrantType takes it. Register
 * it right after creating the provider: it only accepts grant types it knows,
 * so a client listing `password` fails validation until then.
 */
export const passwordGrant = {
  type: PASSWORD_GRANT_TYPE,
  parameters: PARAMETERS,
  /** `resource` may repeat in the request so that the answer can be invalid_target */
  repeatableParameters: ['resource'],
  buildHandler,
} as const;
