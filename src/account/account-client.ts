import { randomBytes, createHash } from 'node:crypto';
import type { Context } from 'koa';
import type { default as Provider, ClientMetadata } from 'oidc-provider';
import type { Revocation } from '../tokens/index.ts';

/**
 * /account signs people in through the same pages, credential check,
 * lockout (and later MFA) as every application: it is a client of Tessera
 * itself. This client is defined by the server, not stored: the provider's
 * static clients (configuration `clients`) are found before the stored ones,
 * so no admin can change, disable or delete it, it is in no client list, and
 * its redirect URI follows the issuer. First party: no consent page. It
 * holds nothing once a sign-in is done: the callback deletes its code and
 * grant (the provider session the sign-in made is what /account reads).
 */
export const ACCOUNT_CLIENT_ID = 'tessera-account';
export const ACCOUNT_PATH = '/account';
export const ACCOUNT_CALLBACK_PATH = '/account/callback';

/** The cookie that carries a sign-in's state from /account to the callback (signed, 10 minutes). */
const STATE_COOKIE = 'tessera.account-signin';
const STATE_TTL_MS = 10 * 60 * 1000;

export function accountClientMetadata(issuer: string): ClientMetadata {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: 'Your Tessera account',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'] as ClientMetadata['response_types'],
    redirect_uris: [new URL(ACCOUNT_CALLBACK_PATH, issuer).href],
    scope: 'openid',
    allowed_scopes: ['openid'],
    first_party: true,
  };
}

/** Cookie options for Tessera's own cookies, as secure as the provider's (src/provider/index.ts). */
export function cookieOptions(issuer: string) {
  return { signed: true, httpOnly: true, sameSite: 'lax' as const, secure: issuer.startsWith('https://'), overwrite: true };
}

/** Sends a person who is not signed in through the sign-in pages; they come back to the callback. */
export function redirectToSignIn(ctx: Context, issuer: string): void {
  const state = randomBytes(16).toString('base64url');
  // PKCE is required of every client; the code is never redeemed (the callback deletes it)
  const challenge = createHash('sha256').update(randomBytes(32)).digest('base64url');
  ctx.cookies.set(STATE_COOKIE, state, { ...cookieOptions(issuer), path: ACCOUNT_PATH, maxAge: STATE_TTL_MS });
  const url = new URL('/auth', issuer);
  for (const [key, value] of Object.entries({
    client_id: ACCOUNT_CLIENT_ID,
    response_type: 'code',
    redirect_uri: new URL(ACCOUNT_CALLBACK_PATH, issuer).href,
    scope: 'openid',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })) url.searchParams.set(key, value);
  ctx.status = 303;
  ctx.redirect(url.href);
}

/**
 * The end of a sign-in for /account: the code and the grant made for this
 * client are deleted (nothing usable is left behind) and the person goes to
 * /account, where the provider session decides who they are. A callback
 * whose state is not this browser's deletes nothing it was not given and
 * still only leads to /account: it cannot sign anyone in.
 * Returns false when the sign-in did not succeed (an error from /auth).
 */
export async function finishSignIn(ctx: Context, deps: { provider: Provider; revocation: Revocation; issuer: string }): Promise<boolean> {
  const expected = ctx.cookies.get(STATE_COOKIE, { signed: true });
  ctx.cookies.set(STATE_COOKIE, null, { ...cookieOptions(deps.issuer), path: ACCOUNT_PATH });
  const { code, state, error } = ctx.query;
  if (typeof state !== 'string' || !expected || state !== expected) return typeof error !== 'string';
  if (typeof code === 'string' && code.length > 0 && code.length <= 512) {
    const stored = await deps.provider.AuthorizationCode.find(code).catch(() => undefined);
    if (stored && stored.clientId === ACCOUNT_CLIENT_ID) {
      await stored.destroy();
      if (stored.grantId) await deps.revocation.revokeGrant(stored.grantId);
    }
  }
  return typeof error !== 'string';
}
