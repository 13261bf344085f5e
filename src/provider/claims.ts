import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { claimsOf, CLAIMS_BY_SCOPE, type AccountRepository } from '../accounts/index.ts';

import { OIDC_SCOPES } from '../clients/index.ts';

export { OIDC_SCOPES };

export function claimsConfiguration(): Pick<Configuration, 'claims' | 'scopes'> {
  // `amr` (what a sign-in proved, src/mfa) is a claim of ID tokens the provider
  // builds itself (code exchange, refresh) only once it is a supported claim;
  // `acr` is one already (acrValues)
  return { claims: { ...CLAIMS_BY_SCOPE, amr: null }, scopes: OIDC_SCOPES };
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
