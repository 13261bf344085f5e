export { loadConfig, ConfigError } from './load.ts';
export { ADMIN_API_PATH, adminResourceOf } from './admin-api.ts';
export type { Config, TtlConfig, PasswordHashingConfig, LockoutConfig, AuditConfig, RedisConfig, RedisTlsSetting, WebhooksConfig, HttpConfig, TlsConfig, RateLimitRule, RateLimitsConfig, DynamicRegistrationConfig, MetricsConfig, ShutdownConfig } from './types.ts';
