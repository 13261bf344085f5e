import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Config } from './types.ts';
import { isAddressOrRange, proxyTrustFromEnvironment, unsafeProxyTrust, type ProxyTrustConfig } from '../http/index.ts';

const configDir = new URL('../../config/', import.meta.url);
const readJson = (path: string | URL) => JSON.parse(readFileSync(path, 'utf8'));

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;
type Plain = Record<string, unknown>;

function isPlainObject(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; anything else in `over` replaces `base`. */
function deepMerge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isPlainObject(value) && isPlainObject(base[key]) ? deepMerge(base[key] as Plain, value) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (isPlainObject(value) || Array.isArray(value)) {
    Object.values(value as object).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/** A number from the environment stays a string when it is not one, so the schema names it. */
function numberOrString(value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** Only the exact words are booleans: anything else stays a string, and the schema names it (a permission is never turned on by a typo). */
const flag = (value: string) => (value === 'true' ? true : value === 'false' ? false : value);

function fromEnvironment(env: Env): Plain {
  const out: Plain = {};
  if (env.PORT !== undefined) out.port = numberOrString(env.PORT);
  if (env.HOST !== undefined) out.host = env.HOST;
  if (env.ISSUER !== undefined) out.issuer = env.ISSUER;
  if (env.DATABASE_URL) out.databaseUrl = env.DATABASE_URL;
  if (env.DATA_DIR !== undefined) out.dataDir = env.DATA_DIR;
  if (env.KEYS_DIR !== undefined) out.keysDir = env.KEYS_DIR;
  if (env.LOG_LEVEL !== undefined) out.logLevel = env.LOG_LEVEL;
  if (env.TRUST_PROXY !== undefined) {
    const proxy = proxyTrustFromEnvironment(env.TRUST_PROXY);
    if (proxy === undefined) throw new ConfigError('TRUST_PROXY must be true (one proxy), false, a number of proxy hops, or a comma-separated list of proxy addresses or CIDR ranges (e.g. 10.0.0.0/8,fd00::/8)');
    out.proxy = proxy;
  }
  if (env.AUDIT_RETENTION_DAYS !== undefined) out.audit = { retentionDays: numberOrString(env.AUDIT_RETENTION_DAYS) };
  if (env.REDIS_URL) out.redis = { url: env.REDIS_URL };
  const webhooks: Plain = {};
  if (env.WEBHOOKS_ALLOW_HTTP_LOOPBACK !== undefined) webhooks.allowHttpLoopback = flag(env.WEBHOOKS_ALLOW_HTTP_LOOPBACK);
  if (env.WEBHOOKS_ALLOW_PRIVATE_NETWORKS !== undefined) webhooks.allowPrivateNetworks = flag(env.WEBHOOKS_ALLOW_PRIVATE_NETWORKS);
  if (env.WEBHOOKS_CA_FILE) webhooks.caFile = env.WEBHOOKS_CA_FILE;
  if (Object.keys(webhooks).length) out.webhooks = webhooks;
  const tls: Plain = {};
  if (env.TLS_CERT_FILE) tls.certFile = env.TLS_CERT_FILE;
  if (env.TLS_KEY_FILE) tls.keyFile = env.TLS_KEY_FILE;
  if (env.TLS_CLIENT_CA_FILE) tls.clientCaFile = env.TLS_CLIENT_CA_FILE;
  if (env.TLS_CLIENT_CERT_HEADER) tls.clientCertificateHeader = env.TLS_CLIENT_CERT_HEADER;
  if (Object.keys(tls).length) out.tls = tls;
  const metrics: Plain = {};
  if (env.METRICS_TOKEN) metrics.token = env.METRICS_TOKEN;
  if (env.METRICS_PORT !== undefined) metrics.port = numberOrString(env.METRICS_PORT);
  if (Object.keys(metrics).length) out.metrics = metrics;
  if (env.BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK !== undefined) out.backchannelLogout = { allowLoopback: flag(env.BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK) };
  return out;
}

function describeErrors(errors: NonNullable<ReturnType<Ajv2020['compile']>['errors']>): string {
  // an if/then/else error only repeats the errors of the branch that applied
  return errors.filter((e) => e.keyword !== 'if').map((e) => {
    const field = e.instancePath ? e.instancePath.slice(1).replaceAll('/', '.') : '';
    const params = e.params as { additionalProperty?: string; missingProperty?: string; allowedValues?: unknown[] };
    const at = (name: string) => (field ? `${field}.${name}` : name);
    if (e.keyword === 'additionalProperties') return `${at(params.additionalProperty!)}: unknown field`;
    if (e.keyword === 'required') return `${at(params.missingProperty!)}: is required`;
    if (e.keyword === 'enum') return `${field} must be one of (${params.allowedValues!.join(', ')})`;
    if (e.keyword === 'format' && (params as { format?: string }).format === 'ip-or-cidr') return `${field} must be an IP address or a CIDR range (e.g. 10.0.0.0/8, fd00::/8)`;
    return `${field || '(root)'} ${e.message}`;
  }).join('; ');
}

/**
 * config/default.json ← CONFIG_FILE ← environment, validated by config/schema.json.
 * Throws ConfigError naming the offending field.
 */
export function loadConfig(env: Env = process.env, overrides: Plain = {}): Config {
  let merged = readJson(new URL('default.json', configDir)) as Plain;
  if (env.CONFIG_FILE) {
    let fileConfig: unknown;
    try {
      fileConfig = readJson(env.CONFIG_FILE);
    } catch (error) {
      throw new ConfigError(`CONFIG_FILE ${env.CONFIG_FILE} could not be read as JSON: ${(error as Error).message}`);
    }
    if (!isPlainObject(fileConfig)) throw new ConfigError('CONFIG_FILE must hold a JSON object');
    merged = deepMerge(merged, fileConfig);
  }
  merged = deepMerge(merged, fromEnvironment(env));
  merged = deepMerge(merged, overrides);
  if (merged.issuer === undefined) merged.issuer = `http://localhost:${merged.port}`;
  if (typeof merged.issuer === 'string') merged.issuer = merged.issuer.replace(/\/+$/, '');

  const ajv = new Ajv2020({ allErrors: true });
  addFormats.default(ajv);
  ajv.addFormat('ip-or-cidr', isAddressOrRange);
  const validate = ajv.compile(readJson(new URL('schema.json', configDir)));
  if (!validate(merged)) {
    throw new ConfigError(`invalid configuration: ${describeErrors(validate.errors!)}`);
  }
  const unsafeProxy = unsafeProxyTrust(merged.proxy as ProxyTrustConfig);
  if (unsafeProxy) throw new ConfigError(`invalid configuration: ${unsafeProxy}`);
  return deepFreeze(merged as unknown as Config);
}
