export { loadConfig, ConfigError } from './load.ts';
export type { Config, TtlConfig, PasswordHashingConfig, LockoutConfig } from './types.ts';
