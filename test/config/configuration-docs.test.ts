import { describe, test, expect } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIGURATION_DOCS, ENVIRONMENT_ONLY_VARIABLES, generateConfigurationDocs, readConfigurationSources, type SchemaNode } from '../../scripts/generate-config-docs.ts';
import { ENVIRONMENT_VARIABLES, loadConfig } from '../../src/config/load.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const committed = () => readFileSync(CONFIGURATION_DOCS, 'utf8');
const { schema, defaults } = readConfigurationSources();

/**
 * Every setting path of the schema, found by a walk of its own (not the
 * generator's): properties, $refs into $defs, the branches of anyOf/oneOf and
 * if/then/else, and the items of lists (`[]`).
 */
function schemaPaths(node: SchemaNode, prefix: string, out: Set<string>): Set<string> {
  if (node.$ref) return schemaPaths(schema.$defs![node.$ref.replace('#/$defs/', '')], prefix, out);
  for (const branch of [...(node.anyOf ?? []), ...(node.oneOf ?? []), node.then, node.else]) {
    if (branch) schemaPaths(branch, prefix, out);
  }
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    out.add(path);
    schemaPaths(child, path, out);
  }
  if (node.items) schemaPaths(node.items, `${prefix}[]`, out);
  return out;
}

/** The environment variables the code reads: `env.NAME`, `env['NAME']`, `*_VARIABLE = 'NAME'` constants, and the table of load.ts. */
function variablesReadBySource(): Set<string> {
  const names = new Set(ENVIRONMENT_VARIABLES.map((variable) => variable.name));
  const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? files(join(dir, entry.name)) : /\.(ts|js|cjs|mjs)$/.test(entry.name) ? [join(dir, entry.name)] : []));
  const patterns = [
    /\benv\??\.([A-Z][A-Z0-9_]*)\b/g,
    /\benv\[\s*['"`]([A-Z][A-Z0-9_]*)['"`]\s*\]/g,
    /\b[A-Z_]*VARIABLE\s*=\s*['"`]([A-Z][A-Z0-9_]*)['"`]/g,
  ];
  for (const file of [...files(join(root, 'src')), ...files(join(root, 'bin'))]) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of patterns) for (const match of text.matchAll(pattern)) names.add(match[1]);
  }
  return names;
}

describe('docs/configuration.md', () => {
  test('is what scripts/generate-config-docs.ts produces now (run `npm run docs:config` after changing the schema, defaults or environment table)', () => {
    expect(committed()).toBe(generateConfigurationDocs());
  });

  test('names every setting of config/schema.json by its dotted path', () => {
    const paths = schemaPaths(schema, '', new Set());
    // the walk must see the nested and $ref'd parts, or this test proves little
    for (const expected of ['http.keepAliveTimeoutMs', 'rateLimits.tokenPerClient.limit', 'redis.sentinel.sentinels[].host', 'redis.cluster.tls.servername', 'proxy.addresses']) {
      expect(paths.has(expected)).toBe(true);
    }
    const text = committed();
    const missing = [...paths].filter((path) => !text.includes(`| \`${path}\` |`));
    expect(missing).toEqual([]);
  });

  test('documents every environment variable the code reads', () => {
    const names = variablesReadBySource();
    // the scan must find the variables read outside load.ts's table, or this test proves little
    for (const expected of ['CONFIG_FILE', 'TESSERA_ADMIN_CLIENT_ID', 'TESSERA_ADMIN_CLIENT_SECRET', 'UV_THREADPOOL_SIZE']) expect(names.has(expected)).toBe(true);
    const text = committed();
    const missing = [...names].filter((name) => !text.includes(`| \`${name}\` |`));
    expect(missing).toEqual([]);
    // and documents none the code no longer reads
    const stale = ENVIRONMENT_ONLY_VARIABLES.map((variable) => variable.name).filter((name) => !names.has(name));
    expect(stale).toEqual([]);
  });

  test('the environment table names settings that exist, and each sets the setting it names', () => {
    const paths = schemaPaths(schema, '', new Set());
    for (const variable of ENVIRONMENT_VARIABLES) expect(paths.has(variable.path)).toBe(true);
    // one variable at a time through loadConfig: the value lands at the path the table (and the docs) give
    const sample: Record<string, string> = { string: '', number: '4321', flag: 'true', proxy: '10.0.0.0/8' };
    const valid: Record<string, string> = {
      ISSUER: 'https://id.example.com', DATABASE_URL: 'postgres://db/tessera', REDIS_URL: 'redis://cache:6379', LOG_LEVEL: 'warn',
      TLS_CERT_FILE: '/etc/tessera/cert.pem', TLS_KEY_FILE: '/etc/tessera/key.pem', METRICS_TOKEN: 'x'.repeat(32), TLS_CLIENT_CERT_HEADER: 'X-Client-Cert',
      DYNAMIC_REGISTRATION: 'token',
    };
    for (const variable of ENVIRONMENT_VARIABLES) {
      const value = valid[variable.name] ?? (sample[variable.kind] || '/some/where');
      const env: Record<string, string> = { [variable.name]: value };
      // settings that need a partner to be valid
      if (variable.name === 'TLS_CERT_FILE' || variable.name === 'TLS_CLIENT_CA_FILE') env.TLS_KEY_FILE = valid.TLS_KEY_FILE;
      if (variable.name === 'TLS_KEY_FILE' || variable.name === 'TLS_CLIENT_CA_FILE') env.TLS_CERT_FILE = valid.TLS_CERT_FILE;
      const config = loadConfig(env) as unknown as Record<string, unknown>;
      const got = variable.path.split('.').reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], config);
      const expected = variable.kind === 'number' ? Number(value) : variable.kind === 'flag' ? true : variable.kind === 'proxy' ? { addresses: ['10.0.0.0/8'] } : value;
      expect({ [variable.name]: got }).toEqual({ [variable.name]: expected });
    }
  });

  test('gives the default of config/default.json for every setting that has a plain value there', () => {
    const rows = new Map(committed().split('\n').filter((line) => line.startsWith('| `')).map((line) => [line.split(' | ')[0].slice(3, -1), line]));
    const leaves: Array<[string, unknown]> = [];
    const walk = (value: unknown, prefix: string) => {
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        for (const [key, child] of Object.entries(value)) walk(child, prefix ? `${prefix}.${key}` : key);
      } else {
        leaves.push([prefix, value]);
      }
    };
    walk(defaults, '');
    expect(leaves.length).toBeGreaterThan(30);
    const wrong = leaves.filter(([path, value]) => !rows.get(path)?.includes(` | \`${JSON.stringify(value)}\` | `)).map(([path]) => path);
    expect(wrong).toEqual([]);
  });
});
