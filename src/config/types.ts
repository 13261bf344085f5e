import type { ProxyTrustConfig } from '../http/index.ts';

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

export interface AuditConfig {
  /** events older than this are purged (default 365; at least 1: there is no "keep forever") */
  readonly retentionDays: number;
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
  readonly audit: AuditConfig;
  /** empty → token state in SQL */
  readonly redis: RedisConfig;
}

/**
 * TLS to Redis under Sentinel or Cluster (`rediss://` is the single node's
 * way): `true` checks the server's certificate against the system's CAs; an
 * object names files (PEM paths) read when the connection is created: `ca`
 * for a private CA, `cert` + `key` for servers that ask for a client
 * certificate (Redis does by default, `tls-auth-clients yes`), and
 * `servername` when the certificates do not name the addresses that Sentinel
 * or the cluster announce (usually IP addresses). Absent or false: no TLS.
 * There is no way to turn certificate checks off: a connection whose peer is
 * not checked is no safer than clear text against anyone on the path.
 */
export type RedisTlsSetting = boolean | {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
};

type HostPort = { host: string; port: number };

/** Where the token state lives in Redis: exactly one of url, sentinel, cluster. */
export type RedisConfig = {
  /** redis://[user:password@]host:port[/db] or rediss://... (TLS). */
  url?: string;
  /** tls: to the sentinels and to the master they name */
  sentinel?: { name: string; sentinels: HostPort[]; password?: string; tls?: RedisTlsSetting };
  /** tls: to every node */
  cluster?: { nodes: HostPort[]; password?: string; tls?: RedisTlsSetting };
  keyPrefix?: string;
};
