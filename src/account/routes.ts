import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Account, AccountRepository, CredentialVerifier, PasswordHasher } from '../accounts/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { Revocation, SessionDirectory, SessionSummary, TokenState } from '../tokens/index.ts';
import { describeResourceScopes, describeScopes, formField, interactionBoundary, lockoutWaitSeconds, PageError, pageRequestId, sendPage } from '../interactions/index.ts';
import { tokenDigest } from '../crypto/index.ts';
import { clientIdHost } from '../clients/index.ts';
import { accountPage, passwordResetDonePage, resetLinkInvalidPage, resetPasswordPage, signedOutPage, type ConnectedApp, type SessionEntry } from '../../views/account.ts';
import { tooManyAttemptsMessage } from '../../views/login.ts';
import { ACCOUNT_CALLBACK_PATH, ACCOUNT_CLIENT_ID, cookieOptions, finishSignIn, redirectToSignIn } from './account-client.ts';
import { accountCsrfToken, isValidAccountCsrfToken } from './csrf.ts';
import { MAX_PASSWORD_LENGTH, newPasswordProblem, replacePassword } from './password-change.ts';
import type { PasswordResets } from './password-resets.ts';
import type { MfaService, PasskeyService } from '../mfa/index.ts';
import { registerTwoStepRoutes, TWO_STEP_NOTICES } from './totp-routes.ts';
import { passkeySectionData, registerPasskeyRoutes } from './passkey-routes.ts';

export interface AccountRouterDeps {
  issuer: string;
  provider: Provider;
  accounts: AccountRepository;
  hasher: PasswordHasher;
  verifyCredentials: CredentialVerifier;
  revocation: Revocation;
  /** the grant index: which grants an account holds */
  tokenState: Pick<TokenState, 'grants'>;
  sessions: SessionDirectory;
  passwordResets: PasswordResets;
  audit: AuditLog;
  /** the same secret as the interaction pages' CSRF tokens (KEYS_DIR) */
  csrfSecret: string;
  /** second factors (two-step verification, /account/two-step) */
  mfa: MfaService;
  passkeys: PasskeyService;
}

/** Messages after an action, by a fixed code in the query: nothing a link can make the page say. */
const NOTICES: Readonly<Record<string, string>> = Object.freeze({
  'app-revoked': 'The application no longer has access to your account.',
  'session-ended': 'That session is signed out.',
  'password-changed': 'Your password is changed. Your other sessions are signed out and applications need your permission again.',
  ...TWO_STEP_NOTICES,
});

/** An id from a form: bounded, or nothing (an oversized id names nothing). */
const idField = (ctx: Context, name: string) => {
  const value = formField(ctx, name);
  return value.length > 0 && value.length <= 256 ? value : '';
};

const staleForm = () => new PageError(403, 'This form has expired', 'For your security the form could not be accepted. Open your account page and try again.');
/** One answer for "no such thing" and "not yours": ids from elsewhere reveal nothing. */
const notYours = (what: string) => new PageError(404, `No such ${what}`, `Your account has no such ${what}. Open your account page and try again.`);

interface SignedIn {
  account: Account;
  /** the provider session's uid (= sid), the id the session directory knows it by */
  sessionId: string;
  /** the provider session's storage id (the value of its cookie) */
  storageId: string;
}

/**
 * /account: the person's own page, signed in through the provider's session
 * (the cookie the sign-in pages set, read with the provider's own keys through
 * its public Session.get). Forms are POSTs with a CSRF token bound to the
 * session and answer with a redirect (POST-redirect-GET). /account/reset/:token
 * is the page of a one-time password reset link.
 */
export function createAccountRouter(deps: AccountRouterDeps): Router {
  const { provider, accounts, csrfSecret, issuer } = deps;
  if (!csrfSecret) throw new Error('createAccountRouter: csrfSecret is required');
  const router = new Router();
  const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });

  async function signedIn(ctx: Context): Promise<SignedIn | undefined> {
    const session = await provider.Session.get(ctx);
    if (!session.accountId) return undefined;
    const account = await accounts.findById(session.accountId);
    // a disabled or deleted account has no page, whatever its session says
    if (!account || account.disabled) return undefined;
    return { account, sessionId: session.uid, storageId: session.jti };
  }

  /** The signed-in person, or a redirect to sign in (GET) / a stale-form page (POST). */
  async function requireSignedIn(ctx: Context): Promise<SignedIn | undefined> {
    const who = await signedIn(ctx);
    if (who) return who;
    if (ctx.method === 'GET') redirectToSignIn(ctx, issuer);
    else throw staleForm();
    return undefined;
  }

  function requireCsrf(ctx: Context, who: SignedIn): void {
    if (!isValidAccountCsrfToken(csrfSecret, 'session', who.sessionId, formField(ctx, 'csrf'))) throw staleForm();
  }

  const backToAccount = (ctx: Context, notice?: keyof typeof NOTICES) => {
    ctx.status = 303;
    ctx.redirect(notice ? `/account?notice=${notice}` : '/account');
  };

  /** Ends the browser's own session: through the directory (back-channel logout), then locally in case it knew nothing of it. */
  async function signOutHere(ctx: Context, who: SignedIn): Promise<void> {
    await deps.sessions.end(who.sessionId, { accountId: who.account.id });
    const session = await provider.Session.find(who.storageId);
    if (session) await session.destroy();
    ctx.cookies.set(provider.cookieName('session'), null, { ...cookieOptions(issuer), path: '/' });
  }

  async function connectedApps(accountId: string): Promise<ConnectedApp[]> {
    const apps: ConnectedApp[] = [];
    for (const grantId of await deps.tokenState.grants.ofAccount(accountId)) {
      const grant = await provider.Grant.find(grantId);
      if (!grant || grant.accountId !== accountId || !grant.clientId || grant.clientId === ACCOUNT_CLIENT_ID) continue;
      // a client ID metadata document's client is shown by its URL's host: not fetched for this page, and its name is only its own claim
      const host = clientIdHost(grant.clientId);
      const client = host ? { clientName: host } : await provider.Client.find(grant.clientId).catch(() => undefined);
      const oidc = describeScopes((grant.getOIDCScope() || '').split(' ').filter(Boolean));
      const resources = Object.keys(grant.resources ?? {})
        .flatMap((uri) => describeResourceScopes((grant.getResourceScope(uri) || '').split(' ').filter(Boolean)));
      apps.push({ grantId, clientName: client?.clientName || grant.clientId, scopes: [...oidc, ...resources] });
    }
    return apps.sort((a, b) => a.clientName.localeCompare(b.clientName));
  }

  function sessionEntries(sessions: SessionSummary[], current: string): SessionEntry[] {
    return sessions.map((s) => ({
      id: s.id,
      description: s.device || s.userAgent || 'Unknown device',
      ip: s.ip,
      createdAt: s.createdAt,
      lastActiveAt: s.lastActiveAt,
      current: s.id === current,
    })).sort((a, b) => Number(b.current) - Number(a.current) || b.createdAt.getTime() - a.createdAt.getTime());
  }

  /** A form that was not right is shown again with what is wrong: 200, as the sign-in page does (429 when locked). */
  async function renderAccount(ctx: Context, who: SignedIn, extra: { status?: number; passwordError?: string } = {}): Promise<void> {
    const notice = typeof ctx.query.notice === 'string' && Object.hasOwn(NOTICES, ctx.query.notice) ? NOTICES[ctx.query.notice] : undefined;
    sendPage(ctx, extra.status ?? 200, accountPage({
      username: who.account.username,
      csrfToken: accountCsrfToken(csrfSecret, 'session', who.sessionId),
      apps: await connectedApps(who.account.id),
      sessions: sessionEntries(await deps.sessions.ofAccount(who.account.id), who.sessionId),
      notice: extra.passwordError ? undefined : notice,
      passwordError: extra.passwordError,
      twoStep: await deps.mfa.factorsOf(who.account.id),
      requestId: pageRequestId(ctx),
      passkeys: await passkeySectionData(deps.passkeys, ctx, who.account.id),
    }));
  }

  router.get('/account', interactionBoundary, async (ctx) => {
    const who = await requireSignedIn(ctx);
    if (who) await renderAccount(ctx, who);
  });

  router.get(ACCOUNT_CALLBACK_PATH, interactionBoundary, async (ctx) => {
    if (!await finishSignIn(ctx, { provider, revocation: deps.revocation, issuer })) {
      throw new PageError(400, 'You are not signed in', 'The sign-in did not complete. Open your account page to try again.');
    }
    backToAccount(ctx);
  });

  router.post('/account/apps/revoke', interactionBoundary, parseForm, async (ctx) => {
    const who = await requireSignedIn(ctx);
    if (!who) return;
    requireCsrf(ctx, who);
    const grantId = idField(ctx, 'grant');
    const grant = grantId ? await provider.Grant.find(grantId) : undefined;
    if (!grant || grant.accountId !== who.account.id || grant.clientId === ACCOUNT_CLIENT_ID) throw notYours('application');
    await deps.revocation.revokeGrant(grantId);
    await deps.audit.record({ type: 'consent.revoked', actor: who.account.id, subject: who.account.id, clientId: grant.clientId ?? null, details: { grant_id: grantId } });
    backToAccount(ctx, 'app-revoked');
  });

  router.post('/account/sessions/end', interactionBoundary, parseForm, async (ctx) => {
    const who = await requireSignedIn(ctx);
    if (!who) return;
    requireCsrf(ctx, who);
    const sessionId = idField(ctx, 'session');
    if (sessionId && sessionId === who.sessionId) {
      await signOutHere(ctx, who);
      ctx.status = 303;
      ctx.redirect('/account/signed-out');
      return;
    }
    if (!sessionId || !await deps.sessions.end(sessionId, { accountId: who.account.id })) throw notYours('session');
    backToAccount(ctx, 'session-ended');
  });

  router.post('/account/sessions/end-all', interactionBoundary, parseForm, async (ctx) => {
    const who = await requireSignedIn(ctx);
    if (!who) return;
    requireCsrf(ctx, who);
    await deps.sessions.endAllOfAccount(who.account.id);
    await signOutHere(ctx, who);
    ctx.status = 303;
    ctx.redirect('/account/signed-out?everywhere=1');
  });

  router.post('/account/sign-out', interactionBoundary, parseForm, async (ctx) => {
    const who = await requireSignedIn(ctx);
    if (!who) return;
    requireCsrf(ctx, who);
    await signOutHere(ctx, who);
    ctx.status = 303;
    ctx.redirect('/account/signed-out');
  });

  router.get('/account/signed-out', interactionBoundary, async (ctx) => {
    sendPage(ctx, 200, signedOutPage({ everywhere: ctx.query.everywhere === '1', requestId: pageRequestId(ctx) }));
  });

  router.post('/account/password', interactionBoundary, parseForm, async (ctx) => {
    const who = await requireSignedIn(ctx);
    if (!who) return;
    requireCsrf(ctx, who);
    const current = formField(ctx, 'current_password');
    const next = formField(ctx, 'new_password');
    // the same check, and the same lockout, as the sign-in page
    const check = current && current.length <= MAX_PASSWORD_LENGTH
      ? await deps.verifyCredentials(who.account.username, current, { ip: ctx.ip })
      : { ok: false as const, reason: 'invalid' as const };
    if (!check.ok) {
      if (check.reason === 'locked') {
        const seconds = lockoutWaitSeconds(check.retryAfterSeconds);
        ctx.set('Retry-After', String(seconds));
        return renderAccount(ctx, who, { status: 429, passwordError: tooManyAttemptsMessage(seconds) });
      }
      return renderAccount(ctx, who, { passwordError: 'Your current password is not correct.' });
    }
    const problem = newPasswordProblem(next, formField(ctx, 'repeat_password'));
    if (problem) return renderAccount(ctx, who, { passwordError: problem });
    await replacePassword(deps, { accountId: who.account.id, passwordHash: await deps.hasher.hash(next), via: 'account', keepSession: who.sessionId });
    backToAccount(ctx, 'password-changed');
  });

  registerTwoStepRoutes(router, {
    mfa: deps.mfa,
    parseForm,
    signedIn: async (ctx) => {
      const who = await requireSignedIn(ctx);
      return who && { accountId: who.account.id, csrfToken: accountCsrfToken(csrfSecret, 'session', who.sessionId), requireCsrf: () => requireCsrf(ctx, who) };
    },
  });
  registerPasskeyRoutes(router, { passkeys: deps.passkeys, requireSignedIn, requireCsrf });

  // ---- one-time password reset links (created by an admin: POST /admin/v1/users/:id/password-reset) ----

  const resetAction = (token: string) => `/account/reset/${encodeURIComponent(token)}`;
  const invalidLink = (ctx: Context) => sendPage(ctx, 404, resetLinkInvalidPage(pageRequestId(ctx)));

  async function renderReset(ctx: Context, token: string, account: Account, error?: string): Promise<void> {
    sendPage(ctx, 200, resetPasswordPage({
      action: resetAction(token),
      csrfToken: accountCsrfToken(csrfSecret, 'reset', tokenDigest(token)),
      username: account.username,
      error,
      requestId: pageRequestId(ctx),
    }));
  }

  async function resetAccount(token: string): Promise<Account | undefined> {
    const accountId = await deps.passwordResets.peek(token);
    return accountId ? accounts.findById(accountId) : undefined;
  }

  router.get('/account/reset/:token', interactionBoundary, async (ctx) => {
    const account = await resetAccount(ctx.params.token);
    if (!account) return invalidLink(ctx);
    await renderReset(ctx, ctx.params.token, account);
  });

  router.post('/account/reset/:token', interactionBoundary, parseForm, async (ctx) => {
    const { token } = ctx.params;
    const account = await resetAccount(token);
    if (!account) return invalidLink(ctx);
    if (!isValidAccountCsrfToken(csrfSecret, 'reset', tokenDigest(token), formField(ctx, 'csrf'))) throw staleForm();
    const next = formField(ctx, 'new_password');
    const problem = newPasswordProblem(next, formField(ctx, 'repeat_password'));
    if (problem) return renderReset(ctx, token, account, problem);
    // hashed before the link is spent: a busy hasher leaves the link usable
    const passwordHash = await deps.hasher.hash(next);
    const redeemedFor = await deps.passwordResets.redeem(token);
    if (redeemedFor !== account.id) return invalidLink(ctx);
    await replacePassword(deps, { accountId: account.id, passwordHash, via: 'reset_link' });
    sendPage(ctx, 200, passwordResetDonePage(pageRequestId(ctx)));
  });

  return router;
}
