import type { Interaction } from './interaction-details.ts';
import { authenticationLevel, hasSecondFactor, isMultiFactor, type FactorMethod, type SecondFactors } from '../mfa/index.ts';
import { pendingSignInOf, type PendingSignIn } from './pending-sign-in.ts';


/*
 * What comes after the first factor: the decisions of the sign-in pages about
 * a second one, kept apart from the routes so they read as rules.
 */

/**
 * The reason the login prompt gives when the client or the request asks for a
 * second factor that the session has not proven (the provider's policy check,
 * src/provider/second-factor-requirement.ts, writes it; the pages read it).
 */
export const MFA_REQUIRED_REASON = 'mfa_required';

/**
 * Login prompt reasons a second factor alone answers. When these are all the
 * reasons, a signed-in person is asked only for the second factor (a step-up);
 * any other reason (no session, prompt=login, max_age, another subject
 * hinted) asks for the password again, as it always did.
 */
const STEP_UP_REASONS = new Set([MFA_REQUIRED_REASON, 'essential_acr', 'essential_acrs']);

const FACTOR_METHODS = new Set<string>(['pwd', 'otp', 'hwk', 'swk']);
const isFactorMethod = (method: unknown): method is FactorMethod => typeof method === 'string' && FACTOR_METHODS.has(method);

/** This interaction's sign-in must end with a second factor (the client's require_mfa, acr_values=mfa, an essential acr). */
export const secondFactorRequiredBy = (interaction: Interaction): boolean =>
  interaction.prompt.name === 'login' && interaction.prompt.reasons.includes(MFA_REQUIRED_REASON);

/**
 * The step-up of a signed-in person whose session proved only a password: the
 * session's account with the methods its sign-in proved, waiting for a second
 * factor. Only when a second factor is all the prompt asks for, and only when
 * the session proved a password (a held factor added to a known one makes two
 * kinds; added to another held one it would not, and the page would loop).
 */
export function stepUpOf(interaction: Interaction): PendingSignIn | undefined {
  const session = interaction.session;
  if (!session?.accountId) return undefined;
  const reasons = interaction.prompt.reasons;
  if (!secondFactorRequiredBy(interaction) || !reasons.every((reason) => STEP_UP_REASONS.has(reason))) return undefined;
  const amr: unknown[] = Array.isArray(session.amr) ? session.amr : [];
  const methods = amr.filter(isFactorMethod);
  if (!methods.includes('pwd')) return undefined;
  return { accountId: session.accountId, methods, ts: Math.floor(Date.now() / 1000) };
}

/**
 * The sign-in waiting for its second factor: the one this interaction keeps
 * (after a right password), or else a step-up of the session's own.
 */
export const pendingOrStepUp = (interaction: Interaction): PendingSignIn | undefined =>
  pendingSignInOf(interaction) ?? stepUpOf(interaction);

/** What was proven is already two kinds of factor (the second one was just set up in this sign-in). */
export const provesTwoFactors = (pending: PendingSignIn): boolean => isMultiFactor(authenticationLevel(pending).amr);

/**
 * Where a sign-in goes once a first factor is proven:
 *  - `second_factor`: the person has one (TOTP or a passkey): always asked,
 *    whether or not the client requires it — an enrolled person expects it;
 *  - `enroll`: has none, and this sign-in must have one: set one up first;
 *  - `complete`: has none and none is required (the password alone, as before
 *    second factors existed), or enough is already proven.
 */
export type NextStep = 'complete' | 'second_factor' | 'enroll';

export function nextStep(pending: PendingSignIn, factors: SecondFactors, secondFactorRequired: boolean): NextStep {
  if (provesTwoFactors(pending)) return 'complete';
  if (hasSecondFactor(factors)) return 'second_factor';
  return secondFactorRequired ? 'enroll' : 'complete';
}
