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
  readonly http: HttpConfig;
  /** absent: plain HTTP (behind a TLS-terminating proxy, or development) */
  readonly tls?: TlsConfig;
  readonly passwordHashing: PasswordHashingConfig;
  readonly ttl: TtlConfig;
  readonly lockout: LockoutConfig;
  readonly audit: AuditConfig;
  readonly rateLimits: RateLimitsConfig;
  /** the device authorization grant (RFC 8628) */
  readonly deviceFlow: DeviceFlowConfig;
  readonly metrics: MetricsConfig;
  readonly shutdown: ShutdownConfig;
  /** empty → token state in SQL */
  readonly redis: RedisConfig;
  readonly webhooks: WebhooksConfig;
  /** absent: logout tokens go to https URLs at globally routable addresses only */
  readonly backchannelLogout?: BackchannelLogoutConfig;
  /** client ID metadata documents (URL client_ids); absent: off */
  readonly clientMetadataDocuments?: ClientMetadataDocumentsConfig;
  /** absent: a client's jwks_uri must be https at a public address */
  readonly jwksUri?: JwksUriConfig;
  /** dynamic client registration (RFC 7591/7592, src/registration); mode off by default */
  readonly dynamicRegistration: DynamicRegistrationConfig;
}

/**
 * Dynamic client registration: who may register (mode) and what a client
 * that registered itself may be. What no setting names, it may not be:
 * never admin, first party, an introspector, a password-grant client.
 */
export interface DynamicRegistrationConfig {
  /** off: no registration endpoint; token: an initial access token is required; open: anyone (rate limited per address, capped) */
  readonly mode: 'off' | 'token' | 'open';
  /** the grant types such a client may register for; never password */
  readonly grantTypes: readonly string[];
  /** the most clients that may have registered themselves; beyond it every registration is refused */
  readonly maxClients: number;
}

/** The HTTP server's timeouts and the size limits of what it reads. */
export interface HttpConfig {
  /** idle keep-alive connections stay open this long: above load balancers' idle timeouts (60 s) */
  readonly keepAliveTimeoutMs: number;
  /** above keepAliveTimeoutMs, as Node requires for a connection reused at the last moment */
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** request bodies on the protocol endpoints and the pages */
  readonly maxBodyBytes: number;
  /** query or form parameters in one request */
  readonly maxParameters: number;
  readonly maxParameterLength: number;
  readonly adminMaxBodyBytes: number;
  readonly adminMaxJsonDepth: number;
}

/** TLS served directly (src/server/tls.ts). */
export interface TlsConfig {
  readonly certFile?: string;
  readonly keyFile?: string;
  /** CAs of accepted client certificates (mTLS, RFC 8705); absent: no certificate is asked for */
  readonly clientCaFile?: string;
  /** behind a TLS-terminating proxy: the header carrying the client certificate, believed from trusted proxies only; absent: none */
  readonly clientCertificateHeader?: string;
}

/** at most `limit` requests per `windowSeconds`; false: no limit */
export type RateLimitRule = false | { readonly limit: number; readonly windowSeconds: number };

export interface RateLimitsConfig {
  readonly tokenPerClient: RateLimitRule;
  readonly tokenPerIp: RateLimitRule;
  readonly introspectionPerClient: RateLimitRule;
  readonly revocationPerClient: RateLimitRule;
  readonly authorizationPerIp: RateLimitRule;
  readonly pagesPerIp: RateLimitRule;
  /** user codes submitted at /device (RFC 8628), per address: stricter than pagesPerIp, against guessing */
  readonly deviceCodePerIp: RateLimitRule;
  readonly adminPerClient: RateLimitRule;
  /** the dynamic registration endpoint (/reg), per address */
  readonly registrationPerIp: RateLimitRule;
}

export interface DeviceFlowConfig {
  /** advertised as `interval` in device authorization answers; polling sooner gets slow_down */
  readonly pollIntervalSeconds: number;
}

export interface MetricsConfig {
  readonly enabled: boolean;
  /** required as a bearer token at /metrics; absent: loopback peers only */
  readonly token?: string;
  /** a separate listener for /metrics; absent: the main port */
  readonly port?: number;
}

/** SIGTERM: /readyz 503 at once, listener closed after drainDelayMs, in-flight requests get gracePeriodMs */
export interface ShutdownConfig {
  readonly drainDelayMs: number;
  readonly gracePeriodMs: number;
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

export interface ClientMetadataDocumentsConfig {
  /** a client_id that is an https URL is fetched as the client's metadata document */
  readonly enabled?: boolean;
  /** development: documents on loopback addresses (never private or link-local ones) */
  readonly allowLoopback?: boolean;
}

export interface JwksUriConfig {
  /** development: clients may register, and the provider fetches, a jwks_uri on a loopback address */
  readonly allowLoopback: boolean;
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
