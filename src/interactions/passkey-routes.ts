import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type { default as Provider } from 'oidc-provider';
import type { AuditRecord } from '../audit/index.ts';
import type { MfaService, PasskeyService, SecondFactorContext } from '../mfa/index.ts';
import { loginPage } from '../../views/login.ts';
import { secondFactorPage } from '../../views/second-factor.ts';
import { csrfTokenFor, isValidCsrfToken } from './csrf.ts';
import { clientIdOf, clientNameOf, interactionOfPath, type Interaction } from './interaction-details.ts';
import { formField, jsonObjectField } from './forms.ts';
import { interactionBoundary, PageError, pageRequestId, sendPage, staleForm, wrongStep } from './page-errors.ts';
import { pendingOrStepUp, provesTwoFactors } from './second-step.ts';
import { completeSignIn } from './sign-in-completion.ts';

/*
 * Passkeys in the sign-in: WebAuthn options for the interaction, and the
 * browser's assertion. With no pending sign-in it is a sign-in without a
 * password (discoverable credentials; the authenticator must verify the
 * person); with one (the password is proven, src/interactions/pending-sign-in.ts,
 * or a signed-in person is stepped up, second-step.ts) it is the second
 * factor, and the passkey must be that account's.
 *
 * The challenge is bound to the interaction (its uid): a challenge handed out
 * for one sign-in answers no other.
 */

export interface PasskeySignInDeps {
  provider: Provider;
  passkeys: PasskeyService;
  /** what the account has enrolled, for the second step's page shown again after a failure */
  mfa: Pick<MfaService, 'factorsOf'>;
  /** the interaction pages' CSRF secret: tokens bound to the interaction uid */
  csrfSecret: string;
  audit?: { enqueue(event: AuditRecord): void };
}


/** Where the page's passkey button asks for options and posts the result. */
export function passkeySignInUrls(uid: string): { optionsUrl: string; action: string } {
  const base = `/interaction/${encodeURIComponent(uid)}/passkey`;
  return { optionsUrl: `${base}/options`, action: base };
}

/** One message whatever went wrong (unknown, removed, another account's, a disabled account's passkey): no enumeration. */
export const PASSKEY_FAILED_MESSAGE = 'That passkey did not sign you in. Try again, or sign in another way.';

const MAX_CREDENTIAL_FIELD = 60_000;
const parsePasskeyForm = bodyParser({ enableTypes: ['form'], formLimit: '64kb' });


export function createPasskeySignInRouter(deps: PasskeySignInDeps): Router {
  const { provider, passkeys, csrfSecret } = deps;
  if (!csrfSecret) throw new Error('createPasskeySignInRouter: csrfSecret is required');
  const router = new Router();

  async function loginStep(ctx: Context & { params: Record<string, string> }): Promise<Interaction> {
    const interaction = await interactionOfPath(provider, ctx);
    if (!isValidCsrfToken(csrfSecret, interaction.uid, formField(ctx, 'csrf'))) throw staleForm();
    if (interaction.prompt.name !== 'login') throw wrongStep();
    if (!passkeys.available) throw new PageError(404, 'Passkeys are not available', 'This server cannot offer passkeys. Go back and sign in another way.');
    return interaction;
  }

  router.post('/interaction/:uid/passkey/options', interactionBoundary, parsePasskeyForm, async (ctx) => {
    const interaction = await loginStep(ctx);
    const pending = pendingOrStepUp(interaction);
    if (pending && provesTwoFactors(pending)) throw wrongStep();
    ctx.body = await passkeys.authenticationOptions({ accountId: pending?.accountId, bindTo: interaction.uid });
  });

  router.post('/interaction/:uid/passkey', interactionBoundary, parsePasskeyForm, async (ctx) => {
    const interaction = await loginStep(ctx);
    const pending = pendingOrStepUp(interaction);
    if (pending && provesTwoFactors(pending)) throw wrongStep();
    const context: SecondFactorContext = { ip: ctx.ip, clientId: clientIdOf(interaction), via: 'login_page' };
    const credential = jsonObjectField(ctx, 'credential', MAX_CREDENTIAL_FIELD);
    const result = credential
      ? await passkeys.authenticate(credential, {
        accountId: pending?.accountId,
        bindTo: interaction.uid,
        // without a password, the passkey is both factors: the authenticator must have verified the person
        requireUserVerification: !pending,
        context,
      })
      : { ok: false as const, reason: 'malformed' };

    if (result.ok && pending) {
      await completeSignIn(provider, ctx, { accountId: pending.accountId, methods: [...pending.methods, result.method], userVerified: result.userVerified, ts: pending.ts });
      return;
    }
    if (result.ok) {
      deps.audit?.enqueue({
        type: 'signin.succeeded', actor: result.accountId, subject: result.accountId, clientId: context.clientId ?? null,
        details: { method: result.method, via: 'login_page' },
      });
      await completeSignIn(provider, ctx, { accountId: result.accountId, methods: [result.method], userVerified: result.userVerified });
      return;
    }
    const status = credential ? 200 : 400;
    if (pending) {
      const factors = await deps.mfa.factorsOf(pending.accountId);
      sendPage(ctx, status, secondFactorPage({
        base: `/interaction/${encodeURIComponent(interaction.uid)}`,
        csrfToken: csrfTokenFor(csrfSecret, interaction.uid),
        clientName: await clientNameOf(provider, interaction),
        variant: 'code',
        totp: factors.totp,
        passkeys: factors.passkeys > 0,
        error: PASSKEY_FAILED_MESSAGE,
        requestId: pageRequestId(ctx),
      }));
      return;
    }
    sendPage(ctx, status, loginPage({
      action: `/interaction/${encodeURIComponent(interaction.uid)}/login`,
      csrfToken: csrfTokenFor(csrfSecret, interaction.uid),
      clientName: await clientNameOf(provider, interaction),
      error: PASSKEY_FAILED_MESSAGE,
      requestId: pageRequestId(ctx),
      passkey: passkeySignInUrls(interaction.uid),
    }));
  });

  return router;
}
