import type { Context } from 'koa';
import type { default as Provider, InteractionResults } from 'oidc-provider';
import { authenticationLevel, type ProvenFactors } from '../mfa/index.ts';

/**
 * Ends the sign-in step of an interaction: the provider's login result, with
 * `amr` and `acr` from what was proven (src/mfa/authentication-level.ts), and
 * a 303 to where the provider resumes. Every way of signing in ends here (the
 * password alone, password + code, password + passkey, a passkey alone), so
 * the ID token says the same thing for the same proof.
 *
 * Whether what was proven is enough (a client that requires a second factor)
 * is decided before this is called.
 */
export async function completeSignIn(
  provider: Provider,
  ctx: Context,
  signIn: { accountId: string; ts?: number } & ProvenFactors,
): Promise<void> {
  const { amr, acr } = authenticationLevel(signIn);
  await finishInteraction(provider, ctx, {
    login: { accountId: signIn.accountId, amr, acr, ts: signIn.ts ?? Math.floor(Date.now() / 1000) },
  }, false);
}

/** Hands a step's result to the provider and sends the browser (303) to where the provider resumes. */
export async function finishInteraction(provider: Provider, ctx: Context, result: InteractionResults, mergeWithLastSubmission: boolean): Promise<void> {
  // interactionResult + a Koa redirect (rather than interactionFinished writing to the raw
  // response) keeps the outer middleware (headers, access log) in charge of the response.
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission });
  ctx.status = 303;
  ctx.redirect(returnTo);
}
