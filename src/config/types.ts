import type { RedisConnectionOptions } from '../tokens/redis-connection.ts';
import type { ProxyTrustConfig } from '../http/proxy-trust.ts';

export interface PasswordHashingConfig {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
  /** argon2 verifications running at once; more wait in a bounded queue. */
  readonly maxConcurrent: number;
  /** waiting verifications beyond which a request gets 503 + Retry-After. */
  readonly maxQueued: number;
}

export interface TtlConfig {
  readonly accessToken: number;
  readonly clientCredentials: number;
  readonly authorizationCode: number;
  readonly idToken: number;
  readonly refreshToken: number;
  readonly grant: number;
  readonly session: number;
  readonly interaction: number;
}

export interface LockoutConfig {
  readonly maxConsecutiveFailures: number;
  readonly baseDelaySeconds: number;
  readonly maxDelaySeconds: number;
  readonly perIpPerMinute: number;
  readonly perIpAndUsernamePerMinute: number;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly issuer: string;
  /** unset → embedded PGlite under dataDir */
  readonly databaseUrl?: string;
  readonly dataDir: string;
  readonly keysDir: string;
  readonly logLevel: string;
  /** which proxies' X-Forwarded-* to believe (src/http/proxy-trust.ts); false: none */
  readonly proxy: ProxyTrustConfig;
  readonly passwordHashing: PasswordHashingConfig;
  readonly ttl: TtlConfig;
  readonly lockout: LockoutConfig;
  /** empty → token state in SQL */
  readonly redis: RedisConnectionOptions;
}
