import type Provider from 'oidc-provider';
import type { TokenState } from './types.ts';

export type Revocation = ReturnType<typeof createRevocation>;

/**
 * Revoking a grant makes every token it covers inactive at once: stored tokens
 * (codes, refresh and opaque access tokens) are deleted, and the JWT access
 * tokens it issued go on the JTI denylist until they would have expired.
 *
 * Both halves are done by the adapters' revokeByGrantId (one call covers every
 * grantable model and the grant's JWTs; test/tokens/adapter-contract.ts), the
 * same code path oidc-provider takes when it revokes a grant itself (refresh
 * token reuse, token revocation, logout). So there is one way a grant dies.
 */
export function createRevocation(deps: { provider: Provider; tokenState: TokenState }) {
  const { tokenState } = deps;

  async function revokeGrant(grantId: string): Promise<void> {
    await tokenState.adapterFactory('AccessToken').revokeByGrantId(grantId);
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
