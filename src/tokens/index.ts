export type { TokenState, AdapterFactory, SessionIndex, SessionMetadata } from './types.ts';
export type { ReplayGuard } from './replay-guard.ts';
export { createSqlTokenState } from './sql-token-state.ts';
export { createRedisTokenState } from './redis-token-state.ts';
export { createRevocation, type Revocation } from './revocation.ts';
export { createSessionDirectory, type SessionDirectory, type SessionEnding, type SessionSummary } from './sessions.ts';
export { describeDevice, shortenUserAgent } from './user-agent.ts';
export type { GrantUse } from './grant-use.ts';
export { memoryRateLimitCounters, redisRateLimitCounters, sqlRateLimitCounters, type RateLimitCounters } from './rate-limit-counters.ts';
