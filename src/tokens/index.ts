export type { TokenState, AdapterFactory, JtiDenylist, IssuedJwtIndex, GrantIndex } from './types.ts';
export { createSqlTokenState, type SqlTokenState } from './sql-token-state.ts';
export { GRANTABLE_MODELS } from './grantable.ts';
export { createRevocation, type Revocation } from './revocation.ts';
