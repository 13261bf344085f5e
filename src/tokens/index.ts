export type { TokenState, AdapterFactory } from './types.ts';
export { createSqlTokenState } from './sql-token-state.ts';
export { createRedisTokenState } from './redis-token-state.ts';
export { createRevocation, type Revocation } from './revocation.ts';
export { interimSessionDirectory, type SessionDirectory, type SessionSummary } from './sessions.ts';
export type { GrantUse } from './grant-use.ts';
