import type Provider from 'oidc-provider';
import { GRANTABLE_MODELS } from './grantable.ts';
import type { TokenState } from './types.ts';

export type Revocation = ReturnType<typeof createRevocation>;

/**
 * Revoking a grant makes every token it covers inactive at once: stored tokens
 * (codes, refresh and opaque access tokens) are deleted, and the JWT access
 * tokens it issued go on the JTI denylist until they would have expired.
 */
export function createRevocation(deps: { provider: Provider; tokenState: TokenState }) {
  const { tokenState } = deps;

  async function revokeGrant(grantId: string): Promise<void> {
    const jwts = await tokenState.issuedJwts.list(grantId);
    await Promise.all(jwts.map(({ jti, expiresAt }) => tokenState.denylist.add(jti, expiresAt)));
    await Promise.all([...GRANTABLE_MODELS].map((model) => tokenState.adapterFactory(model).revokeByGrantId(grantId)));
    await tokenState.adapterFactory('Grant').destroy(grantId);
  }

  async function revokeGrants(grantIds: string[]): Promise<number> {
    for (const grantId of grantIds) await revokeGrant(grantId);
    return grantIds.length;
  }

  return {
    revokeGrant,
    revokeGrantsOfUser: async (accountId: string) => revokeGrants(await tokenState.grants.ofAccount(accountId)),
    revokeGrantsOfClient: async (clientId: string) => revokeGrants(await tokenState.grants.ofClient(clientId)),
    /** A single JWT access token, by its jti, until its exp. */
    revokeJwt: (jti: string, expiresAt: number) => tokenState.denylist.add(jti, expiresAt),
  };
}
