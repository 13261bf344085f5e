import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { MfaService, SecondFactorContext } from '../mfa/index.ts';
import { formField, interactionBoundary, lockoutWaitSeconds, pageRequestId, sendPage } from '../interactions/index.ts';
import { tooManyAttemptsMessage } from '../../views/login.ts';
import { newRecoveryCodesPage, recoveryCodesPage, replaceTotpPage, totpOffPage, totpSetupPage } from '../../views/two-step.ts';

/*
 * /account/two-step: an authenticator app (TOTP) and its recovery codes, for
 * the signed-in person. Registered by the account router (routes.ts), whose
 * sign-in check and CSRF tokens (bound to the session) these pages use.
 *
 *   POST /account/two-step/totp/start    a new secret waits → the setup page
 *                                        (while an app is on: with a current code, asked by
 *   GET  /account/two-step/totp/new      this page)
 *   GET  /account/two-step/totp          the waiting secret: QR code, key, Code field
 *   POST /account/two-step/totp          its first code turns it on → the recovery codes, once
 *   GET/POST /account/two-step/totp/off  a current code or a recovery code turns it off
 *   GET/POST /account/two-step/recovery-codes  a current code → ten new codes, once
 *
 * Every code typed here goes through the same lockout as passwords. Changes
 * to a factor that is on ask for a code, not only the session: a borrowed,
 * unlocked browser is not enough to take the second factor away, put another
 * app in its place, or read new recovery codes.
 * Recovery codes are shown in the answer to the POST that made them, never on
 * a page a GET (the back button, the history, a cache) could show again.
 */

/** The notices the account page may show after these pages (merged into its fixed list). */
export const TWO_STEP_NOTICES = Object.freeze({
  'totp-off': 'The authenticator app is off: signing in no longer asks for its codes.',
});

export interface TwoStepRouteDeps {
  mfa: MfaService;
  parseForm: Middleware;
  /**
   * The signed-in person: account id, the session's CSRF token for forms, and a
   * check that throws the stale-form page unless the submitted token is the
   * session's. Undefined after a redirect to sign in (GET); throws the
   * stale-form page (POST).
   */
  signedIn(ctx: Context): Promise<SignedInPerson | undefined>;
}

interface SignedInPerson { accountId: string; csrfToken: string; requireCsrf(): void }

const WRONG_CODE = 'That code is not right. Type the code the app shows now (check that the time on your phone is right).';
const WRONG_CODE_OR_RECOVERY = 'That code is not right. Type the code your authenticator app shows now, or one of your recovery codes.';

export function registerTwoStepRoutes(router: Router, deps: TwoStepRouteDeps): void {
  const { mfa, parseForm } = deps;
  const via = (ctx: Context): SecondFactorContext => ({ ip: ctx.ip, via: 'account' });
  const redirect = (ctx: Context, location: string) => {
    ctx.status = 303;
    ctx.redirect(location);
  };
  /** The error to show for a refused code; a lockout answers 429 with Retry-After. */
  const refusal = (ctx: Context, result: { reason: 'invalid' } | { reason: 'locked'; retryAfterSeconds: number }, wrong: string) => {
    if (result.reason !== 'locked') return { status: 200, error: wrong };
    const seconds = lockoutWaitSeconds(result.retryAfterSeconds);
    ctx.set('Retry-After', String(seconds));
    return { status: 429, error: tooManyAttemptsMessage(seconds) };
  };

  async function renderSetup(ctx: Context, who: SignedInPerson, extra: { status?: number; error?: string } = {}): Promise<void> {
    const [pending, factors] = await Promise.all([mfa.pendingTotpEnrollment(who.accountId), mfa.factorsOf(who.accountId)]);
    if (!pending) return redirect(ctx, '/account');
    sendPage(ctx, extra.status ?? 200, totpSetupPage({
      csrfToken: who.csrfToken, secret: pending.secret, qrSvg: pending.qrSvg, replacing: factors.totp, error: extra.error, requestId: pageRequestId(ctx),
    }));
  }

  /** Pages about a TOTP that is on: without one there is nothing to turn off, nor a code to ask for. */
  async function whenTotpOn(ctx: Context): Promise<SignedInPerson | undefined> {
    const who = await deps.signedIn(ctx);
    if (!who) return undefined;
    if (!(await mfa.factorsOf(who.accountId)).totp) {
      redirect(ctx, '/account');
      return undefined;
    }
    return who;
  }

  router.post('/account/two-step/totp/start', interactionBoundary, parseForm, async (ctx) => {
    const who = await deps.signedIn(ctx);
    if (!who) return;
    who.requireCsrf();
    if ((await mfa.factorsOf(who.accountId)).totp) {
      // another app in place of the one that is on: the person proves they have it (or a recovery code)
      const result = await mfa.verifyCode(who.accountId, formField(ctx, 'code'), via(ctx));
      if (!result.ok) {
        const { status, error } = refusal(ctx, result, WRONG_CODE_OR_RECOVERY);
        return sendPage(ctx, status, replaceTotpPage({ csrfToken: who.csrfToken, error, requestId: pageRequestId(ctx) }));
      }
    }
    await mfa.startTotpEnrollment(who.accountId);
    redirect(ctx, '/account/two-step/totp');
  });

  router.get('/account/two-step/totp/new', interactionBoundary, async (ctx) => {
    const who = await whenTotpOn(ctx);
    if (who) sendPage(ctx, 200, replaceTotpPage({ csrfToken: who.csrfToken, requestId: pageRequestId(ctx) }));
  });

  router.get('/account/two-step/totp', interactionBoundary, async (ctx) => {
    const who = await deps.signedIn(ctx);
    if (who) await renderSetup(ctx, who);
  });

  router.post('/account/two-step/totp', interactionBoundary, parseForm, async (ctx) => {
    const who = await deps.signedIn(ctx);
    if (!who) return;
    who.requireCsrf();
    const result = await mfa.confirmTotpEnrollment(who.accountId, formField(ctx, 'code'), via(ctx));
    if (result.ok) {
      sendPage(ctx, 200, recoveryCodesPage({ codes: result.recoveryCodes, totpJustTurnedOn: true, requestId: pageRequestId(ctx) }));
      return;
    }
    // replaced or gone meanwhile (another tab): the account page says what is on
    if (result.reason === 'no_enrollment') return redirect(ctx, '/account');
    await renderSetup(ctx, who, refusal(ctx, result, WRONG_CODE));
  });

  router.get('/account/two-step/totp/off', interactionBoundary, async (ctx) => {
    const who = await whenTotpOn(ctx);
    if (who) sendPage(ctx, 200, totpOffPage({ csrfToken: who.csrfToken, requestId: pageRequestId(ctx) }));
  });

  router.post('/account/two-step/totp/off', interactionBoundary, parseForm, async (ctx) => {
    const who = await whenTotpOn(ctx);
    if (!who) return;
    who.requireCsrf();
    const result = await mfa.disableTotp(who.accountId, formField(ctx, 'code'), via(ctx));
    if (result.ok) return redirect(ctx, '/account?notice=totp-off');
    const { status, error } = refusal(ctx, result, WRONG_CODE_OR_RECOVERY);
    sendPage(ctx, status, totpOffPage({ csrfToken: who.csrfToken, error, requestId: pageRequestId(ctx) }));
  });

  router.get('/account/two-step/recovery-codes', interactionBoundary, async (ctx) => {
    const who = await whenTotpOn(ctx);
    if (who) sendPage(ctx, 200, newRecoveryCodesPage({ csrfToken: who.csrfToken, requestId: pageRequestId(ctx) }));
  });

  router.post('/account/two-step/recovery-codes', interactionBoundary, parseForm, async (ctx) => {
    const who = await whenTotpOn(ctx);
    if (!who) return;
    who.requireCsrf();
    const result = await mfa.verifyCode(who.accountId, formField(ctx, 'code'), via(ctx));
    if (!result.ok) {
      const { status, error } = refusal(ctx, result, WRONG_CODE_OR_RECOVERY);
      return sendPage(ctx, status, newRecoveryCodesPage({ csrfToken: who.csrfToken, error, requestId: pageRequestId(ctx) }));
    }
    const codes = await mfa.newRecoveryCodes(who.accountId);
    sendPage(ctx, 200, recoveryCodesPage({ codes, totpJustTurnedOn: false, requestId: pageRequestId(ctx) }));
  });
}
