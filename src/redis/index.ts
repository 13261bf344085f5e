// Redis connections (single node, Sentinel, Cluster; TLS) for the token state and the lockout store.
export { createRedisClient, closeRedisClient, type RedisConnectionOptions } from './connection.ts';
