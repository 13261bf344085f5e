import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type { default as Provider, KoaContextWithOIDC } from 'oidc-provider';
import { loginPage, INCORRECT_CREDENTIALS_MESSAGE, tooManyAttemptsMessage } from '../../views/login.ts';
import { consentPage } from '../../views/consent.ts';
import { secondFactorPage, MAX_CODE_LENGTH, WRONG_CODE_MESSAGE, type SecondFactorVariant } from '../../views/second-factor.ts';
import { enrollmentPage, recoveryCodesPage, secondFactorReadyPage } from '../../views/enroll-second-factor.ts';
import type { AuditRecord } from '../audit/index.ts';
import { NO_SECOND_FACTORS, type MfaService } from '../mfa/index.ts';
import { csrfTokenFor, isValidCsrfToken } from './csrf.ts';
import { clientIdOf, clientNameOf, interactionOfPath, selfRegistrationOf, type Interaction } from './interaction-details.ts';
import { clientIdHost } from '../clients/index.ts';
import { formField, lockoutWaitSeconds } from './forms.ts';
import { completeSignIn, finishInteraction } from './sign-in-completion.ts';
import { passkeySignInUrls } from './passkey-routes.ts';
import { forgetPendingSignIn, keepPendingSignIn, pendingSignInOf, type PendingSignIn } from './pending-sign-in.ts';
import { nextStep, pendingOrStepUp, provesTwoFactors, secondFactorRequiredBy } from './second-step.ts';
import { describeResourceScopes, describeScopes } from './scopes.ts';
import { expiredRequest, interactionBoundary, PageError, pageRequestId, sendPage, staleForm, wrongStep } from './page-errors.ts';

export type VerifyCredentialsResult =
  /** secondFactorFollows: the account has a second factor (the credential check asked once the password was right) */
  | { ok: true; accountId: string; secondFactorFollows: boolean }
  | { ok: false; reason: 'invalid' | 'locked'; retryAfterSeconds?: number };

export interface InteractionRouterDeps {
  provider: Provider;
  accounts: {
    verifyCredentials(username: string, password: string, context: { ip: string; clientId?: string; via?: 'login_page' }): Promise<VerifyCredentialsResult>;
  };
  /** second factors: what an account has, its codes, setting TOTP up inside a sign-in that requires it */
  mfa: Pick<MfaService, 'factorsOf' | 'verifyCode' | 'startTotpEnrollment' | 'pendingTotpEnrollment' | 'confirmTotpEnrollment'>;
  /** Dedicated secret for interaction CSRF tokens; shared by all instances behind a load balancer. */
  csrfSecret: string;
  /** Human name of a resource server (API) for the consent page. */
  resourceName?: (identifier: string) => Promise<string | undefined>;
  /** where consent is recorded (consent.given); sign-ins are recorded by verifyCredentials */
  audit?: { enqueue(event: AuditRecord): void };
  /** the sign-in page offers "Sign in with a passkey" (src/interactions/passkey-routes.ts) */
  passkeysAvailable?: boolean;
}


interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

// Bounds what we echo back and hand to the password hasher; the body limit bounds the rest.
const MAX_USERNAME_LENGTH = 256;
const MAX_PASSWORD_LENGTH = 1024;

export function createInteractionRouter(deps: InteractionRouterDeps): Router {
  const { provider, accounts, mfa, csrfSecret } = deps;
  if (!csrfSecret) throw new Error('createInteractionRouter: csrfSecret is required');

  const router = new Router();
  const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });

  const loadInteraction = (ctx: Context & { params: Record<string, string> }) => interactionOfPath(provider, ctx);

  function requireCsrf(ctx: Context, interaction: Interaction): void {
    if (!isValidCsrfToken(csrfSecret, interaction.uid, formField(ctx, 'csrf'))) throw staleForm();
  }

  function renderLogin(
    ctx: Context,
    interaction: Interaction,
    clientName: string,
    extra: { status?: number; username?: string; error?: string } = {},
  ): void {
    sendPage(ctx, extra.status ?? 200, loginPage({
      action: `/interaction/${encodeURIComponent(interaction.uid)}/login`,
      csrfToken: csrfTokenFor(csrfSecret, interaction.uid),
      clientName,
      username: extra.username,
      error: extra.error,
      requestId: pageRequestId(ctx),
      passkey: deps.passkeysAvailable ? passkeySignInUrls(interaction.uid) : undefined,
    }));
  }

  /** a client ID metadata document's client: its host first, the name it gives itself (without the host clientNameOf added) after */
  const consentNames = (clientName: string, clientHost: string | undefined) =>
    (clientHost ? { clientHost, clientName: clientName.endsWith(` (${clientHost})`) ? clientName.slice(0, -clientHost.length - 3) : clientName } : { clientName });

  async function renderConsent(ctx: Context, interaction: Interaction, clientName: string): Promise<void> {
    const details = interaction.prompt.details as ConsentDetails;
    const resources = await Promise.all(
      Object.entries(details.missingResourceScopes ?? {}).map(async ([identifier, scopes]) => ({
        identifier,
        name: (await deps.resourceName?.(identifier)) || identifier,
        scopes: describeResourceScopes(scopes),
      })),
    );
    const base = `/interaction/${encodeURIComponent(interaction.uid)}`;
    sendPage(ctx, 200, consentPage({
      action: `${base}/confirm`,
      abortAction: `${base}/abort`,
      csrfToken: csrfTokenFor(csrfSecret, interaction.uid),
      ...consentNames(clientName, clientIdHost(clientIdOf(interaction))),
      selfRegistered: await selfRegistrationOf(provider, interaction),
      scopes: describeScopes(details.missingOIDCScope ?? []),
      resources,
      claims: details.missingOIDCClaims ?? [],
      requestId: pageRequestId(ctx),
    }));
  }

  const interactionBase = (interaction: Interaction) => `/interaction/${encodeURIComponent(interaction.uid)}`;

  function renderSecondFactor(
    ctx: Context,
    interaction: Interaction,
    clientName: string,
    factors: { totp: boolean; passkeys: number },
    extra: { status?: number; variant?: SecondFactorVariant; error?: string } = {},
  ): void {
    sendPage(ctx, extra.status ?? 200, secondFactorPage({
      base: interactionBase(interaction),
      csrfToken: csrfTokenFor(csrfSecret, interaction.uid),
      clientName,
      variant: extra.variant ?? 'code',
      totp: factors.totp,
      passkeys: factors.passkeys > 0,
      error: extra.error,
      requestId: pageRequestId(ctx),
    }));
  }

  async function renderEnrollment(
    ctx: Context,
    interaction: Interaction,
    clientName: string,
    accountId: string,
    extra: { status?: number; error?: string } = {},
  ): Promise<void> {
    // the secret waiting for its first code is shown again (a reload, a wrong code); else a new one
    const waiting = await mfa.pendingTotpEnrollment(accountId);
    const enrollment = waiting ?? await mfa.startTotpEnrollment(accountId);
    sendPage(ctx, extra.status ?? 200, enrollmentPage({
      action: `${interactionBase(interaction)}/enroll`,
      csrfToken: csrfTokenFor(csrfSecret, interaction.uid),
      clientName,
      secret: enrollment.secret,
      qrSvg: enrollment.qrSvg,
      error: extra.error,
      requestId: pageRequestId(ctx),
    }));
  }

  /** The page of a sign-in whose first factor is proven: the second step, its set-up, or Continue once both are done. */
  async function renderPendingSignIn(ctx: Context, interaction: Interaction, clientName: string, pending: PendingSignIn, variant: SecondFactorVariant): Promise<void> {
    if (provesTwoFactors(pending)) {
      sendPage(ctx, 200, secondFactorReadyPage({
        action: `${interactionBase(interaction)}/continue`,
        csrfToken: csrfTokenFor(csrfSecret, interaction.uid),
        clientName,
        requestId: pageRequestId(ctx),
      }));
      return;
    }
    const factors = await mfa.factorsOf(pending.accountId);
    switch (nextStep(pending, factors, secondFactorRequiredBy(interaction))) {
      case 'second_factor':
        renderSecondFactor(ctx, interaction, clientName, factors, { variant });
        return;
      case 'enroll':
        await renderEnrollment(ctx, interaction, clientName, pending.accountId);
        return;
      default:
        // nothing more to ask (the factor was removed meanwhile): the password again, from the start
        renderLogin(ctx, interaction, clientName);
    }
  }

  const variantOf = (value: unknown): SecondFactorVariant => (value === 'recovery-code' ? 'recovery-code' : 'code');

  /** A typed code, bounded as the login page bounds its fields; anything longer is no code (and is not checked). */
  const typedCode = (ctx: Context) => {
    const code = formField(ctx, 'code').trim();
    return code.length <= MAX_CODE_LENGTH ? code : '';
  };

  function sendLocked(ctx: Context, retryAfterSeconds: number | undefined, render: (error: string) => void | Promise<void>) {
    const seconds = lockoutWaitSeconds(retryAfterSeconds);
    ctx.set('Retry-After', String(seconds));
    return render(tooManyAttemptsMessage(seconds));
  }

  router.get('/interaction/:uid', interactionBoundary, async (ctx) => {
    const interaction = await loadInteraction(ctx);
    const clientName = await clientNameOf(provider, interaction);
    switch (interaction.prompt.name) {
      case 'login': {
        // after a right password (kept in the interaction), or a signed-in person asked for more
        const pending = pendingOrStepUp(interaction);
        if (pending) {
          await renderPendingSignIn(ctx, interaction, clientName, pending, variantOf(ctx.query.with));
          return;
        }
        const hint = interaction.params.login_hint;
        const username = typeof hint === 'string' && hint.length <= MAX_USERNAME_LENGTH ? hint : undefined;
        renderLogin(ctx, interaction, clientName, { username });
        return;
      }
      case 'consent':
        await renderConsent(ctx, interaction, clientName);
        return;
      default:
        throw new Error(`interaction prompt "${interaction.prompt.name}" has no page`);
    }
  });

  router.post('/interaction/:uid/login', interactionBoundary, parseForm, async (ctx) => {
    const interaction = await loadInteraction(ctx);
    requireCsrf(ctx, interaction);
    if (interaction.prompt.name !== 'login') throw wrongStep();

    const username = formField(ctx, 'username').trim().slice(0, MAX_USERNAME_LENGTH);
    const password = formField(ctx, 'password');
    const clientName = await clientNameOf(provider, interaction);

    const result: VerifyCredentialsResult = username && password && password.length <= MAX_PASSWORD_LENGTH
      ? await accounts.verifyCredentials(username, password, { ip: ctx.ip, clientId: clientIdOf(interaction), via: 'login_page' })
      : { ok: false, reason: 'invalid' };

    if (result.ok) {
      const pending: PendingSignIn = { accountId: result.accountId, methods: ['pwd'], ts: Math.floor(Date.now() / 1000) };
      // which second factors, only when the credential check found there are some
      const factors = result.secondFactorFollows ? await mfa.factorsOf(result.accountId) : NO_SECOND_FACTORS;
      if (nextStep(pending, factors, secondFactorRequiredBy(interaction)) === 'complete') {
        await completeSignIn(provider, ctx, pending);
        return;
      }
      // the second step (or its set-up) is a page of its own: a reload shows it again, never re-sends the password
      await keepPendingSignIn(interaction, pending);
      ctx.status = 303;
      ctx.redirect(interactionBase(interaction));
      return;
    }
    // the password form sent again starts the sign-in over: a second step waiting for the earlier password is gone
    await forgetPendingSignIn(interaction);
    if (result.reason === 'locked') {
      const seconds = lockoutWaitSeconds(result.retryAfterSeconds);
      ctx.set('Retry-After', String(seconds));
      renderLogin(ctx, interaction, clientName, { status: 429, username, error: tooManyAttemptsMessage(seconds) });
      return;
    }
    renderLogin(ctx, interaction, clientName, { username, error: INCORRECT_CREDENTIALS_MESSAGE });
  });

  router.post('/interaction/:uid/second-factor', interactionBoundary, parseForm, async (ctx) => {
    const interaction = await loadInteraction(ctx);
    requireCsrf(ctx, interaction);
    if (interaction.prompt.name !== 'login') throw wrongStep();
    const pending = pendingOrStepUp(interaction);
    if (!pending || provesTwoFactors(pending)) throw wrongStep();

    const clientName = await clientNameOf(provider, interaction);
    const variant = variantOf(formField(ctx, 'with'));
    const code = typedCode(ctx);
    const result = code
      ? await mfa.verifyCode(pending.accountId, code, { ip: ctx.ip, clientId: clientIdOf(interaction), via: 'login_page' })
      : { ok: false as const, reason: 'invalid' as const };
    if (result.ok) {
      await completeSignIn(provider, ctx, { accountId: pending.accountId, methods: [...pending.methods, 'otp'], ts: pending.ts });
      return;
    }
    const factors = await mfa.factorsOf(pending.accountId);
    if (result.reason === 'locked') {
      sendLocked(ctx, result.retryAfterSeconds, (error) => renderSecondFactor(ctx, interaction, clientName, factors, { status: 429, variant, error }));
      return;
    }
    renderSecondFactor(ctx, interaction, clientName, factors, { variant, error: WRONG_CODE_MESSAGE });
  });

  router.post('/interaction/:uid/enroll', interactionBoundary, parseForm, async (ctx) => {
    const interaction = await loadInteraction(ctx);
    requireCsrf(ctx, interaction);
    if (interaction.prompt.name !== 'login') throw wrongStep();
    const pending = pendingOrStepUp(interaction);
    if (!pending) throw wrongStep();
    // Only a sign-in that must have a second factor and has none sets one up here: a
    // password alone never replaces a factor the person already has.
    if (nextStep(pending, await mfa.factorsOf(pending.accountId), secondFactorRequiredBy(interaction)) !== 'enroll') throw wrongStep();

    const clientName = await clientNameOf(provider, interaction);
    const code = typedCode(ctx);
    const result = code
      ? await mfa.confirmTotpEnrollment(pending.accountId, code, { ip: ctx.ip, clientId: clientIdOf(interaction), via: 'login_page' })
      : { ok: false as const, reason: 'invalid' as const };
    if (result.ok) {
      // proven now: the code confirmed the new secret. Kept, so that Continue (and a reload) finish the sign-in.
      await keepPendingSignIn(interaction, { ...pending, methods: [...pending.methods, 'otp'] });
      sendPage(ctx, 200, recoveryCodesPage({
        action: `${interactionBase(interaction)}/continue`,
        csrfToken: csrfTokenFor(csrfSecret, interaction.uid),
        clientName,
        codes: result.recoveryCodes,
        requestId: pageRequestId(ctx),
      }));
      return;
    }
    if (result.reason === 'locked') {
      await sendLocked(ctx, result.retryAfterSeconds, (error) => renderEnrollment(ctx, interaction, clientName, pending.accountId, { status: 429, error }));
      return;
    }
    await renderEnrollment(ctx, interaction, clientName, pending.accountId, {
      error: result.reason === 'no_enrollment' ? 'The key expired before its first code arrived. Scan the new one.' : WRONG_CODE_MESSAGE,
    });
  });

  router.post('/interaction/:uid/continue', interactionBoundary, parseForm, async (ctx) => {
    const interaction = await loadInteraction(ctx);
    requireCsrf(ctx, interaction);
    if (interaction.prompt.name !== 'login') throw wrongStep();
    // only what this interaction kept once the second factor was set up: never a step-up on its own
    const pending = pendingSignInOf(interaction);
    if (!pending || !provesTwoFactors(pending)) throw wrongStep();
    await completeSignIn(provider, ctx, { accountId: pending.accountId, methods: pending.methods, ts: pending.ts });
  });

  router.post('/interaction/:uid/confirm', interactionBoundary, parseForm, async (ctx) => {
    const interaction = await loadInteraction(ctx);
    requireCsrf(ctx, interaction);
    if (interaction.prompt.name !== 'consent') throw wrongStep();

    const accountId = interaction.session?.accountId;
    const clientId = interaction.params.client_id;
    if (!accountId || typeof clientId !== 'string') throw expiredRequest();

    const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
    const grant = existing && existing.accountId === accountId && existing.clientId === clientId
      ? existing
      : new provider.Grant({ accountId, clientId });

    const details = interaction.prompt.details as ConsentDetails;
    if (details.missingOIDCScope?.length) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims?.length) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    deps.audit?.enqueue({
      type: 'consent.given', actor: accountId, subject: accountId, clientId,
      details: {
        grant_id: grantId,
        scopes: details.missingOIDCScope ?? [],
        claims: details.missingOIDCClaims ?? [],
        resource_scopes: details.missingResourceScopes ?? {},
      },
    });

    // Merged with the login submission of the same authorization request: without it,
    // prompt=login or max_age would ask for the login again after consent.
    await finishInteraction(provider, ctx, { consent: { grantId } }, true);
  });

  router.post('/interaction/:uid/abort', interactionBoundary, parseForm, async (ctx) => {
    const interaction = await loadInteraction(ctx);
    requireCsrf(ctx, interaction);
    await finishInteraction(provider, ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
  });

  return router;
}
