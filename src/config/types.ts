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
  readonly webhooks: WebhooksConfig;
  /** absent: logout tokens go to https URLs at globally routable addresses only */
  readonly backchannelLogout?: BackchannelLogoutConfig;
}

/** Delivery of signed event webhooks (src/audit/webhook-delivery.ts). */
export interface WebhooksConfig {
  /** development: receivers on loopback addresses (plain http allowed to them); false: refused */
  readonly allowHttpLoopback: boolean;
  /** receivers on private (RFC 1918, CGNAT, ULA) addresses; false: refused */
  readonly allowPrivateNetworks: boolean;
  /** PEM file of CAs trusted for receivers besides the system's (unset: the system's only) */
  readonly caFile?: string;
  /** per attempt, connection to the end of the response */
  readonly timeoutMs: number;
  /** after this many failed attempts a delivery is `failed` */
  readonly maxAttempts: number;
  /** the first retry waits about this long, each next one twice as long (with jitter) */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** how often each instance looks for due deliveries */
  readonly pollIntervalMs: number;
  /** deliveries one instance claims at a time */
  readonly batchSize: number;
}

export interface BackchannelLogoutConfig {
  /** development: clients may register, and receive logout tokens at, loopback addresses */
  readonly allowLoopback: boolean;
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
