// docs/configuration.md, generated from what the server itself reads:
// config/schema.json (every setting, its type, range and description),
// config/default.json (defaults) and ENVIRONMENT_VARIABLES in
// src/config/load.ts (which variable sets which setting). Run it after any of
// them changes:
//
//   npm run docs:config            (node scripts/generate-config-docs.ts)
//
// test/config/configuration-docs.test.ts regenerates the text in memory and
// fails when the committed file differs, so the reference cannot drift.
import { readFileSync, writeFileSync } from 'node:fs';
import { ENVIRONMENT_VARIABLES, type EnvironmentVariable } from '../src/config/load.ts';

export interface SchemaNode {
  type?: string | string[];
  description?: string;
  $comment?: string;
  $ref?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  if?: SchemaNode;
  then?: SchemaNode;
  else?: SchemaNode;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  dependentRequired?: Record<string, string[]>;
  items?: SchemaNode;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minItems?: number;
  minProperties?: number;
  $defs?: Record<string, SchemaNode>;
}

/**
 * Environment variables that set no schema setting: read by the code itself.
 * Hand-written; the test checks that every variable the code reads is either
 * here or in ENVIRONMENT_VARIABLES.
 */
export const ENVIRONMENT_ONLY_VARIABLES: ReadonlyArray<{ name: string; description: string }> = [
  {
    name: 'CONFIG_FILE',
    description: 'Path of a JSON file holding any of the settings above (a JSON object; unknown fields are refused). It is merged over `config/default.json` and under the environment variables. A file that cannot be read or is not a JSON object stops the start.',
  },
  {
    name: 'TESSERA_ADMIN_CLIENT_ID',
    description: 'With `TESSERA_ADMIN_CLIENT_SECRET`: the admin client\'s id, set at every start (both or neither; one alone stops the server). Neither: the server creates the admin client once and writes its credentials to `KEYS_DIR/admin-client.json`. The CLI\'s admin commands read the same two variables (or that file). See [operations: the admin client](operations.md#the-admin-client).',
  },
  {
    name: 'TESSERA_ADMIN_CLIENT_SECRET',
    description: 'The admin client\'s secret: at least 32 characters and not predictable (under 128 bits of estimated entropy is refused at start). A changed value replaces the stored secret; the old one and the tokens issued with it stop working at every instance.',
  },
  {
    name: 'UV_THREADPOOL_SIZE',
    description: 'Node\'s own (libuv\'s thread pool, 4 threads when unset). Tessera reads it to run at most one password hash fewer than there are threads, so JWT signing, file and DNS work always find a free thread (see `passwordHashing.maxConcurrent`).',
  },
];

/** What the value of each kind of environment variable may be. */
const KIND_SYNTAX: Record<EnvironmentVariable['kind'], string> = {
  string: 'the value as it is',
  number: 'digits (anything else is refused, naming the setting)',
  flag: 'exactly `true` or `false` (anything else is refused, naming the setting)',
  proxy: '`false` (also empty or `0`): no proxy; `true`: exactly one proxy, at any address; a number of proxy hops (`2`), which sets `proxy.hops`; or a comma-separated list of proxy addresses and CIDR ranges (`10.0.0.0/8,fd00::/8`), which sets `proxy.addresses`. Anything else stops the start',
};

interface Row {
  path: string;
  type: string;
  allowed: string[];
  defaultValue: unknown;
  environment?: EnvironmentVariable;
  description: string;
  hasChildren: boolean;
}

const code = (value: string) => `\`${value}\``;
const json = (value: unknown) => JSON.stringify(value);

function resolve(root: SchemaNode, node: SchemaNode): SchemaNode {
  if (!node.$ref) return node;
  const match = /^#\/\$defs\/(.+)$/.exec(node.$ref);
  const target = match && root.$defs?.[match[1]];
  if (!target) throw new Error(`config/schema.json: cannot resolve ${node.$ref}`);
  return resolve(root, target);
}

/** The shapes a value may take: the branches of anyOf/oneOf, or of if/then/else (the `if` only tells them apart). */
function alternativesOf(node: SchemaNode): SchemaNode[] {
  if (node.anyOf) return node.anyOf;
  if (node.oneOf) return node.oneOf;
  if (node.if && node.then && node.else) return [node.then, node.else];
  return [node];
}

function typeName(node: SchemaNode): string {
  if ('const' in node) return code(json(node.const));
  if (node.enum) {
    const kinds = [...new Set(node.enum.map((value) => typeof value))];
    return kinds.join(' or ');
  }
  const types = Array.isArray(node.type) ? node.type : node.type ? [node.type] : [];
  return types.map((type) => {
    if (type !== 'array') return type;
    const items = node.items && typeName(node.items);
    return items ? `array of ${items}s` : 'array';
  }).join(' or ') || 'any';
}

const FORMATS: Record<string, string> = {
  uri: 'a URL',
  'ip-or-cidr': 'an IP address or a CIDR range',
};

function constraintsOf(node: SchemaNode): string[] {
  const out: string[] = [];
  if (node.enum) out.push(`one of ${node.enum.map((value) => code(String(value))).join(', ')}`);
  if (node.minimum !== undefined && node.maximum !== undefined) out.push(`${node.minimum} to ${node.maximum}`);
  else if (node.minimum !== undefined) out.push(`at least ${node.minimum}`);
  else if (node.maximum !== undefined) out.push(`at most ${node.maximum}`);
  if (node.minLength === 1) out.push('not empty');
  else if (node.minLength !== undefined) out.push(`at least ${node.minLength} characters`);
  if (node.maxLength !== undefined) out.push(`at most ${node.maxLength} characters`);
  if (node.format) out.push(FORMATS[node.format] ?? `format ${node.format}`);
  if (node.pattern) out.push(`matches ${code(node.pattern)}`);
  if (node.minItems !== undefined) out.push(`at least ${node.minItems} item${node.minItems === 1 ? '' : 's'}`);
  if (node.items) {
    const items = constraintsOf(node.items);
    if (items.length) out.push(`each: ${items.join(', ')}`);
  }
  if (node.minProperties === 1) out.push('at least one field');
  return out;
}

function valueAt(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !(key in current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function descriptionOf(own: SchemaNode, resolved: SchemaNode): string {
  const text = (node: SchemaNode) => node.description ?? node.$comment;
  const parts = [text(own), own === resolved ? undefined : text(resolved)].filter((part): part is string => !!part);
  return [...new Set(parts)].join(' ');
}

/** Every setting under `node`, depth first, in the schema's order. */
function collectRows(root: SchemaNode, defaults: unknown, parentPath: string, node: SchemaNode, rows: Row[]): void {
  const resolved = resolve(root, node);
  for (const alternative of alternativesOf(resolved).map((branch) => resolve(root, branch))) {
    const objectProperties = alternative.properties;
    if (objectProperties) {
      for (const [name, child] of Object.entries(objectProperties)) {
        const path = parentPath ? `${parentPath}.${name}` : name;
        rows.push(rowOf(root, defaults, path, child, parentPath ? alternative : undefined, name));
        collectRows(root, defaults, path, child, rows);
      }
    }
    if (alternative.items) {
      const items = resolve(root, alternative.items);
      if (items.properties) collectRows(root, defaults, `${parentPath}[]`, items, rows);
    }
  }
}

/** `parent`: the object holding the setting; undefined at the top level, where config/default.json or the loader fills every required field. */
function rowOf(root: SchemaNode, defaults: unknown, path: string, own: SchemaNode, parent: SchemaNode | undefined, name: string): Row {
  const resolved = resolve(root, own);
  const alternatives = alternativesOf(resolved).map((branch) => resolve(root, branch));
  const defaultValue = path.includes('[]') ? undefined : valueAt(defaults, path);
  const allowed = alternatives.flatMap(constraintsOf);
  // a field its object cannot be without, and for which no default stands in
  if (parent?.required?.includes(name) && defaultValue === undefined) allowed.unshift('required');
  const needs = parent?.dependentRequired?.[name];
  if (needs) allowed.push(`needs ${needs.map(code).join(', ')}`);
  const hasChildren = alternatives.some((branch) => branch.properties || (branch.items && resolve(root, branch.items).properties));
  return {
    path,
    type: alternatives.map(typeName).join(' or '),
    allowed,
    defaultValue,
    environment: ENVIRONMENT_VARIABLES.find((variable) => variable.path === path),
    description: descriptionOf(own, resolved),
    hasChildren: !!hasChildren,
  };
}

/** Every setting of the schema: dotted paths, `[]` for the items of a list. */
export function settingsOf(schema: SchemaNode, defaults: unknown = {}): Row[] {
  const rows: Row[] = [];
  collectRows(schema, defaults, '', schema, rows);
  return rows;
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function defaultText(row: Row): string {
  if (row.defaultValue === undefined) return 'none';
  const text = json(row.defaultValue);
  if (row.hasChildren && text.length > 40) return 'its fields\' defaults';
  return code(text);
}

function environmentText(row: Row): string {
  const variable = row.environment;
  if (!variable) return '';
  const notes = [];
  if (variable.kind === 'flag') notes.push('`true`/`false`');
  if (variable.kind === 'proxy') notes.push('[own syntax](#trust_proxy)');
  if (variable.emptyMeansUnset) notes.push('empty: unset');
  return `${code(variable.name)}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

function table(rows: Row[]): string[] {
  return [
    '| setting | type | allowed | default | environment | description |',
    '|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${[code(row.path), row.type, row.allowed.join('; '), defaultText(row), environmentText(row), row.description].map(cell).join(' | ')} |`),
  ];
}

const anchorOf = (heading: string) => heading.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replaceAll(' ', '-');

export interface ConfigurationSources {
  schema: SchemaNode;
  defaults: unknown;
}

export function readConfigurationSources(root: URL = new URL('../', import.meta.url)): ConfigurationSources {
  return {
    schema: JSON.parse(readFileSync(new URL('config/schema.json', root), 'utf8')) as SchemaNode,
    defaults: JSON.parse(readFileSync(new URL('config/default.json', root), 'utf8')) as unknown,
  };
}

/** The text of docs/configuration.md. */
export function generateConfigurationDocs({ schema, defaults }: ConfigurationSources = readConfigurationSources()): string {
  const rows = settingsOf(schema, defaults);
  const sectionOf = (path: string) => path.split(/[.[]/)[0];
  const topLevel = Object.keys(schema.properties ?? {});
  const withChildren = topLevel.filter((name) => rows.some((row) => row.path === name && row.hasChildren));
  const general = topLevel.filter((name) => !withChildren.includes(name));

  const lines: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated by `npm run docs:config` (scripts/generate-config-docs.ts) from config/schema.json,',
    '     config/default.json and ENVIRONMENT_VARIABLES in src/config/load.ts. Do not edit by hand:',
    '     change those and regenerate. test/config/configuration-docs.test.ts fails when this file is stale. -->',
    '',
    'Every setting Tessera reads. They come from three places, each over the one before:',
    '',
    '1. `config/default.json` (the defaults below);',
    '2. the JSON file named by the environment variable `CONFIG_FILE`, if set;',
    '3. environment variables (the "environment" column).',
    '',
    'Objects merge field by field, so a file or variable sets only what it names (a list or any other',
    'value replaces the one before whole). The result is checked against `config/schema.json` at start:',
    'an unknown field, a value of the wrong type or out of range stops the process with exit code 1 and',
    'a message naming the setting. "none" as a default means the setting is absent, and absent grants',
    'nothing. How to run Tessera in production is in [operations.md](operations.md#production-deployment).',
    '',
    'A configuration file sets settings by their paths, for example `ttl.accessToken` and',
    '`rateLimits.pagesPerIp`:',
    '',
    '```json',
    '{',
    '  "ttl": { "accessToken": 900 },',
    '  "rateLimits": { "pagesPerIp": { "limit": 600, "windowSeconds": 60 } }',
    '}',
    '```',
    '',
    'In the paths, `[]` stands for each item of a list.',
    '',
    '## Contents',
    '',
    `- [General](#general): ${general.map(code).join(', ')}`,
    ...withChildren.map((name) => `- [${name}](#${anchorOf(name)})`),
    '- [Environment variables](#environment-variables)',
    '',
    '## General',
    '',
    ...table(rows.filter((row) => general.includes(row.path))),
  ];
  for (const name of withChildren) {
    const section = rows.filter((row) => sectionOf(row.path) === name);
    const head = section.find((row) => row.path === name)!;
    lines.push('', `## ${name}`, '');
    if (head.description) lines.push(head.description, '');
    // the section's own row without its description, just printed above
    lines.push(...table(section.map((row) => (row === head ? { ...row, description: '' } : row))));
  }

  lines.push(
    '',
    '## Environment variables',
    '',
    'Variables that set a setting (an empty value sets the empty text, except where "empty: unset" is said):',
    '',
    '| variable | sets | value |',
    '|---|---|---|',
    ...ENVIRONMENT_VARIABLES.map((variable) => `| ${cell(code(variable.name))} | ${cell(code(variable.path))} | ${cell(KIND_SYNTAX[variable.kind] + (variable.emptyMeansUnset ? '; empty: unset' : ''))} |`),
    '',
    '### TRUST_PROXY',
    '',
    `${KIND_SYNTAX.proxy}. The same in a configuration file: \`"proxy": false\`, \`true\`, \`{ "hops": 2 }\`, \`{ "addresses": ["10.0.0.0/8"] }\` or both fields (at most that many proxies, each at a listed address). A range covering every address (\`0.0.0.0/0\`, \`::/0\`) is refused. See [operations: behind a proxy](operations.md#behind-a-proxy).`,
    '',
    '### Variables that are not settings',
    '',
    '| variable | meaning |',
    '|---|---|',
    ...ENVIRONMENT_ONLY_VARIABLES.map((variable) => `| ${cell(code(variable.name))} | ${cell(variable.description)} |`),
    '',
  );
  return lines.join('\n');
}

export const CONFIGURATION_DOCS = new URL('../docs/configuration.md', import.meta.url);

if (import.meta.main) {
  writeFileSync(CONFIGURATION_DOCS, generateConfigurationDocs());
  console.log(`wrote ${CONFIGURATION_DOCS.pathname}`);
}
