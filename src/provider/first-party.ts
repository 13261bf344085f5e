import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { allowedOidcScopes, isFirstParty } from '../clients/index.ts';
import { secondFactorCheck } from './second-factor-requirement.ts';


/**
 * First-party clients are trusted: their users are not asked for consent, the
 * grant covers what the request asks for (already bounded by the client's
 * allow-list). Third parties go through the consent page.
 */
export async function loadExistingGrant(ctx: KoaContextWithOIDC) {
  const { provider, client, session, result } = ctx.oidc;
  const grantId = result?.consent?.grantId ?? session?.grantIdFor(client!.clientId);
  const existing = grantId ? await provider.Grant.find(grantId) : undefined;
  if (!isFirstParty(client) || !session?.accountId) return existing;

  const grant = existing ?? new provider.Grant({ clientId: client!.clientId, accountId: session.accountId });
  // the provider has already refused OIDC scopes outside the client's allow-list
  // (restrictOidcScopesToAllowList); resource scopes are the resource servers' offers
  const requested = new Set(String(ctx.oidc.params?.scope ?? '').split(' '));
  const oidcScopes = allowedOidcScopes(client).filter((scope) => requested.has(scope));
  if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
  for (const [indicator, resourceServer] of Object.entries(ctx.oidc.resourceServers ?? {})) {
    const offered = (resourceServer as { scope: string }).scope.split(' ');
    grant.addResourceScope(indicator, offered.filter((scope) => requested.has(scope)).join(' '));
  }
  await grant.save();
  return grant;
}

/**
 * oidc-provider's interaction policy, except that a first-party client's
 * `prompt=consent` does not show the consent page. OIDC requires that prompt
 * for offline_access, so without this a first-party app could not get a
 * refresh token without its users being asked to consent to it. Native clients
 * still get the page (the base policy's native_client_prompt): another app can
 * claim their redirect URIs.
 *
 * And the login prompt also asks when a second factor is required and the
 * session has not proven one (second-factor-requirement.ts).
 */
export function firstPartyInteractionPolicy() {
  const policy = interactionPolicy.base();
  // a client or request that requires a second factor the session has not proven: the login prompt
  policy.get('login')!.checks.add(secondFactorCheck());
  const consent = policy.get('consent')!;
  const requested = consent.checks.get('consent_prompt')!;
  consent.checks.remove('consent_prompt');
  consent.checks.add(new interactionPolicy.Check(
    requested.reason,
    requested.description,
    requested.error!,
    (ctx) => !isFirstParty(ctx.oidc.client) && requested.check(ctx),
  ), 0);
  return policy;
}

