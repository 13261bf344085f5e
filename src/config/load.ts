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

/**
 * How an environment variable's text becomes a setting's value:
 * - string: as it is;
 * - number: digits become a number, anything else stays text for the schema to refuse by name;
 * - flag: exactly `true` or `false`, anything else stays text for the schema to refuse;
 * - proxy: TRUST_PROXY's own syntax (true, false, a hop count, or addresses and CIDR ranges).
 */
export type EnvironmentValueKind = 'string' | 'number' | 'flag' | 'proxy';

export interface EnvironmentVariable {
  readonly name: string;
  /** the setting it sets, as a dotted path in config/schema.json */
  readonly path: string;
  readonly kind: EnvironmentValueKind;
  /** an empty value counts as unset (for URLs and file names, where "" cannot mean anything) */
  readonly emptyMeansUnset?: boolean;
}

/**
 * Every environment variable that sets a configuration setting: the one list
 * that loadConfig reads and docs/configuration.md is generated from
 * (scripts/generate-config-docs.ts), so the two cannot disagree.
 */
export const ENVIRONMENT_VARIABLES: readonly EnvironmentVariable[] = [
  { name: 'PORT', path: 'port', kind: 'number' },
  { name: 'HOST', path: 'host', kind: 'string' },
  { name: 'ISSUER', path: 'issuer', kind: 'string' },
  { name: 'DATABASE_URL', path: 'databaseUrl', kind: 'string', emptyMeansUnset: true },
  { name: 'DATA_DIR', path: 'dataDir', kind: 'string' },
  { name: 'KEYS_DIR', path: 'keysDir', kind: 'string' },
  { name: 'LOG_LEVEL', path: 'logLevel', kind: 'string' },
  { name: 'TRUST_PROXY', path: 'proxy', kind: 'proxy' },
  { name: 'AUDIT_RETENTION_DAYS', path: 'audit.retentionDays', kind: 'number' },
  { name: 'REDIS_URL', path: 'redis.url', kind: 'string', emptyMeansUnset: true },
  { name: 'WEBHOOKS_ALLOW_HTTP_LOOPBACK', path: 'webhooks.allowHttpLoopback', kind: 'flag' },
  { name: 'WEBHOOKS_ALLOW_PRIVATE_NETWORKS', path: 'webhooks.allowPrivateNetworks', kind: 'flag' },
  { name: 'WEBHOOKS_CA_FILE', path: 'webhooks.caFile', kind: 'string', emptyMeansUnset: true },
  { name: 'TLS_CERT_FILE', path: 'tls.certFile', kind: 'string', emptyMeansUnset: true },
  { name: 'TLS_KEY_FILE', path: 'tls.keyFile', kind: 'string', emptyMeansUnset: true },
  { name: 'TLS_CLIENT_CA_FILE', path: 'tls.clientCaFile', kind: 'string', emptyMeansUnset: true },
  { name: 'TLS_CLIENT_CERT_HEADER', path: 'tls.clientCertificateHeader', kind: 'string', emptyMeansUnset: true },
  { name: 'METRICS_TOKEN', path: 'metrics.token', kind: 'string', emptyMeansUnset: true },
  { name: 'METRICS_PORT', path: 'metrics.port', kind: 'number' },
  { name: 'BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK', path: 'backchannelLogout.allowLoopback', kind: 'flag' },
  { name: 'CLIENT_ID_METADATA_DOCUMENTS', path: 'clientMetadataDocuments.enabled', kind: 'flag' },
  { name: 'CLIENT_METADATA_ALLOW_LOOPBACK', path: 'clientMetadataDocuments.allowLoopback', kind: 'flag' },
  { name: 'JWKS_URI_ALLOW_LOOPBACK', path: 'jwksUri.allowLoopback', kind: 'flag' },
  { name: 'SHUTDOWN_DRAIN_DELAY_MS', path: 'shutdown.drainDelayMs', kind: 'number' },
  { name: 'SHUTDOWN_GRACE_PERIOD_MS', path: 'shutdown.gracePeriodMs', kind: 'number' },
  { name: 'DYNAMIC_REGISTRATION', path: 'dynamicRegistration.mode', kind: 'string' },
  { name: 'DYNAMIC_REGISTRATION_MAX_CLIENTS', path: 'dynamicRegistration.maxClients', kind: 'number' },
];

const TRUST_PROXY_SYNTAX = 'TRUST_PROXY must be true (one proxy), false, a number of proxy hops, or a comma-separated list of proxy addresses or CIDR ranges (e.g. 10.0.0.0/8,fd00::/8)';

function environmentValue(variable: EnvironmentVariable, text: string): unknown {
  switch (variable.kind) {
    case 'string': return text;
    case 'number': return numberOrString(text);
    case 'flag': return flag(text);
    case 'proxy': {
      const proxy = proxyTrustFromEnvironment(text);
      if (proxy === undefined) throw new ConfigError(TRUST_PROXY_SYNTAX);
      return proxy;
    }
  }
}

/** The settings the environment gives, as a nested object (merged over the file's). */
function fromEnvironment(env: Env): Plain {
  const out: Plain = {};
  for (const variable of ENVIRONMENT_VARIABLES) {
    const text = env[variable.name];
    if (text === undefined || (variable.emptyMeansUnset && text === '')) continue;
    const keys = variable.path.split('.');
    let parent = out;
    for (const key of keys.slice(0, -1)) parent = (parent[key] ??= {}) as Plain;
    parent[keys.at(-1)!] = environmentValue(variable, text);
  }
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
