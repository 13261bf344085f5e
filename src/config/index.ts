export { loadConfig, ConfigError } from './load.ts';
export type { Config, TtlConfig, PasswordHashingConfig, LockoutConfig, RedisConfig, RedisTlsSetting } from './types.ts';
