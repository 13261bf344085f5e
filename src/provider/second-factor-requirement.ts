import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { requiresSecondFactor } from '../clients/index.ts';
import { ACR_MULTI_FACTOR, ACR_PASSWORD, isMultiFactor } from '../mfa/index.ts';
import { MFA_REQUIRED_REASON } from '../interactions/index.ts';

/*
 * When a sign-in must prove a second factor, and the login prompt that asks
 * for it when the session has not. The pages (src/interactions/second-step.ts)
 * read the reason and ask for the second factor, or for its set-up.
 */

/** `acr_values` names `mfa` (the request asks for a second factor; a list that names it is read as requiring it). */
export function acrValuesAskForSecondFactor(acrValues: unknown): boolean {
  return typeof acrValues === 'string' && acrValues.split(' ').includes(ACR_MULTI_FACTOR);
}

/**
 * The `claims` parameter makes `acr` essential with `mfa` as the only
 * acceptable level: `value: "mfa"`, or `values` naming mfa and not pwd. The
 * provider's own essential_acr(s) checks ask for the login prompt then too;
 * this says that a second factor is what answers it.
 */
export function essentialAcrAsksForSecondFactor(claims: unknown): boolean {
  const acr = (claims as { id_token?: { acr?: { essential?: unknown; value?: unknown; values?: unknown } } } | undefined)?.id_token?.acr;
  if (!acr || acr.essential !== true) return false;
  if (acr.value === ACR_MULTI_FACTOR) return true;
  return Array.isArray(acr.values) && acr.values.includes(ACR_MULTI_FACTOR) && !acr.values.includes(ACR_PASSWORD);
}

/** This authorization request must end with a second factor proven: the client's require_mfa, or the request asks. */
export function secondFactorRequired(ctx: KoaContextWithOIDC): boolean {
  const { client, params, claims } = ctx.oidc;
  return requiresSecondFactor(client) || acrValuesAskForSecondFactor(params?.acr_values) || essentialAcrAsksForSecondFactor(claims);
}

/**
 * A check of the login prompt: a second factor is required and the session's
 * sign-in did not prove one (its amr lacks `mfa`). Without a session this asks
 * too, beside no_session, so the pages know before the password that more
 * will be needed. With prompt=none the request fails with login_required.
 */
export function secondFactorCheck() {
  return new interactionPolicy.Check(
    MFA_REQUIRED_REASON,
    'a second factor is required',
    'login_required',
    (ctx) => secondFactorRequired(ctx) && !isMultiFactor(ctx.oidc.session?.amr),
  );
}
