import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { claimsOf, CLAIMS_BY_SCOPE, type AccountRepository } from '../accounts/index.ts';

import { OIDC_SCOPES } from '../clients/index.ts';

export { OIDC_SCOPES };

export function claimsConfiguration(): Pick<Configuration, 'claims' | 'scopes'> {
  return {
    claims: {
      ...CLAIMS_BY_SCOPE,
      // what the sign-in proved (src/mfa/authentication-level.ts), in every ID token: the
      // provider releases a claim only for a scope (or the claims parameter), and `openid` is
      // in every request that gets an ID token. Userinfo has no acr/amr to release.
      openid: [...CLAIMS_BY_SCOPE.openid, 'acr', 'amr'],
    },
    scopes: OIDC_SCOPES,
  };
}

/** The provider's findAccount: disabled accounts do not exist for it. */
export function createFindAccount(accounts: AccountRepository): Configuration['findAccount'] {
  return async (_ctx: KoaContextWithOIDC, id: string) => {
    const account = await accounts.findById(id);
    if (!account || account.disabled) return undefined;
    return {
      accountId: account.id,
      claims: async () => claimsOf(account) as { sub: string },
    };
  };
}
