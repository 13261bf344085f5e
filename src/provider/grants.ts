import type { KoaContextWithOIDC } from 'oidc-provider';

const isFirstParty = (client: unknown) => (client as { first_party?: boolean }).first_party === true;

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
  const requestedScope = String(ctx.oidc.params?.scope ?? '');
  const requested = new Set(requestedScope.split(' '));
  grant.addOIDCScope(requestedScope);
  for (const [indicator, resourceServer] of Object.entries(ctx.oidc.resourceServers ?? {})) {
    const offered = (resourceServer as { scope: string }).scope.split(' ');
    grant.addResourceScope(indicator, offered.filter((scope) => requested.has(scope)).join(' '));
  }
  await grant.save();
  return grant;
}

export { isFirstParty };
