/*
 * The admin API's OpenAPI document (done-means 6 of issue 11): it covers
 * every route the router answers, and it is a valid OpenAPI 3.1 document.
 *
 * Validity is checked here by the rules of the OpenAPI 3.1.0 specification
 * that such a document can break, written as a JSON Schema of our own (the
 * document objects: info, servers, paths, path items, operations, parameters,
 * request bodies, responses, media types, components, security schemes and
 * requirements, with no unknown fields), plus what a schema cannot say:
 * every $ref resolves, every path template variable is a required path
 * parameter, and every embedded schema is valid JSON Schema 2020-12 (the 3.1
 * dialect). The document is validated against the OpenAPI Initiative's own
 * 3.1 schema as well, by @hyperjump/json-schema (a dev dependency that ships
 * the schema and implements $dynamicRef, which the official schema needs and
 * ajv does not fully follow).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type Router from '@koa/router';
import { ADMIN_PREFIX } from '../../src/admin/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

type Json = Record<string, any>;

// the OpenAPI Initiative's schema for 3.1 documents (bundled with @hyperjump/json-schema: no download)
const OFFICIAL_SCHEMA = 'https://spec.openapis.org/oas/3.1/schema';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const extensions = { patternProperties: { '^x-': true } };
const strictObject = (properties: Json, required: string[] = [], extra: Json = {}) =>
  ({ type: 'object', properties, required, ...extensions, additionalProperties: false, ...extra });

/** The OpenAPI 3.1.0 objects that the admin document uses, each closed to unknown fields (specification §4.8). */
const OPENAPI_31 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $defs: {
    schema: { type: ['object', 'boolean'] },
    reference: strictObject({ $ref: { type: 'string', format: 'uri-reference' }, summary: { type: 'string' }, description: { type: 'string' } }, ['$ref']),
    server: strictObject({ url: { type: 'string', format: 'uri-reference' }, description: { type: 'string' }, variables: { type: 'object' } }, ['url']),
    mediaType: strictObject({ schema: { $ref: '#/$defs/schema' }, example: true, examples: { type: 'object' }, encoding: { type: 'object' } }),
    content: { type: 'object', propertyNames: { pattern: '^[a-z*]+/[a-z0-9.+*-]+$' }, additionalProperties: { $ref: '#/$defs/mediaType' } },
    parameter: strictObject({
      name: { type: 'string' }, in: { enum: ['query', 'header', 'path', 'cookie'] }, description: { type: 'string' },
      required: { type: 'boolean' }, deprecated: { type: 'boolean' }, allowEmptyValue: { type: 'boolean' },
      style: { type: 'string' }, explode: { type: 'boolean' }, allowReserved: { type: 'boolean' },
      schema: { $ref: '#/$defs/schema' }, content: { $ref: '#/$defs/content', minProperties: 1, maxProperties: 1 },
      example: true, examples: { type: 'object' },
    }, ['name', 'in'], {
      oneOf: [{ required: ['schema'] }, { required: ['content'] }],
      if: { properties: { in: { const: 'path' } } }, then: { properties: { required: { const: true } }, required: ['required'] },
    }),
    requestBody: strictObject({ description: { type: 'string' }, content: { $ref: '#/$defs/content' }, required: { type: 'boolean' } }, ['content']),
    response: strictObject({ description: { type: 'string' }, headers: { type: 'object' }, content: { $ref: '#/$defs/content' }, links: { type: 'object' } }, ['description']),
    responses: {
      type: 'object', minProperties: 1,
      properties: { default: { $ref: '#/$defs/response' } },
      patternProperties: { '^[1-5](?:[0-9]{2}|XX)$': { $ref: '#/$defs/response' }, '^x-': true },
      additionalProperties: false,
    },
    securityRequirement: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
    operation: strictObject({
      tags: { type: 'array', items: { type: 'string' } }, summary: { type: 'string' }, description: { type: 'string' },
      operationId: { type: 'string' }, externalDocs: { type: 'object' },
      parameters: { type: 'array', items: { anyOf: [{ $ref: '#/$defs/parameter' }, { $ref: '#/$defs/reference' }] } },
      requestBody: { anyOf: [{ $ref: '#/$defs/requestBody' }, { $ref: '#/$defs/reference' }] },
      responses: { $ref: '#/$defs/responses' },
      callbacks: { type: 'object' }, deprecated: { type: 'boolean' },
      security: { type: 'array', items: { $ref: '#/$defs/securityRequirement' } },
      servers: { type: 'array', items: { $ref: '#/$defs/server' } },
    }),
    pathItem: {
      type: 'object',
      properties: { summary: { type: 'string' }, description: { type: 'string' }, servers: { type: 'array' }, parameters: { type: 'array' } },
      patternProperties: { [`^(${METHODS.join('|')})$`]: { $ref: '#/$defs/operation' }, '^x-': true },
      additionalProperties: false,
    },
    oauthFlow: strictObject({ authorizationUrl: { type: 'string', format: 'uri' }, tokenUrl: { type: 'string', format: 'uri' }, refreshUrl: { type: 'string', format: 'uri' }, scopes: { type: 'object', additionalProperties: { type: 'string' } } }, ['scopes']),
    securityScheme: {
      type: 'object', required: ['type'],
      properties: { type: { enum: ['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect'] }, description: { type: 'string' } },
      if: { properties: { type: { const: 'oauth2' } } },
      then: {
        required: ['flows'],
        properties: {
          flows: strictObject({
            implicit: { $ref: '#/$defs/oauthFlow' }, password: { $ref: '#/$defs/oauthFlow' },
            clientCredentials: { allOf: [{ $ref: '#/$defs/oauthFlow' }, { required: ['tokenUrl'] }] },
            authorizationCode: { $ref: '#/$defs/oauthFlow' },
          }),
        },
      },
    },
  },
  ...strictObject({
    openapi: { type: 'string', pattern: '^3\\.1\\.\\d+(-.+)?$' },
    info: strictObject({ title: { type: 'string' }, summary: { type: 'string' }, description: { type: 'string' }, termsOfService: { type: 'string' }, contact: { type: 'object' }, license: { type: 'object' }, version: { type: 'string' } }, ['title', 'version']),
    jsonSchemaDialect: { type: 'string', format: 'uri' },
    servers: { type: 'array', items: { $ref: '#/$defs/server' } },
    paths: { type: 'object', patternProperties: { '^/': { $ref: '#/$defs/pathItem' }, '^x-': true }, additionalProperties: false },
    webhooks: { type: 'object' },
    components: strictObject({
      schemas: { type: 'object', propertyNames: { pattern: '^[a-zA-Z0-9._-]+$' }, additionalProperties: { $ref: '#/$defs/schema' } },
      securitySchemes: { type: 'object', propertyNames: { pattern: '^[a-zA-Z0-9._-]+$' }, additionalProperties: { $ref: '#/$defs/securityScheme' } },
      responses: { type: 'object' }, parameters: { type: 'object' }, examples: { type: 'object' }, requestBodies: { type: 'object' },
      headers: { type: 'object' }, links: { type: 'object' }, callbacks: { type: 'object' }, pathItems: { type: 'object' },
    }),
    security: { type: 'array', items: { $ref: '#/$defs/securityRequirement' } },
    tags: { type: 'array' },
    externalDocs: { type: 'object' },
  }, ['openapi', 'info'], { anyOf: [{ required: ['paths'] }, { required: ['components'] }, { required: ['webhooks'] }] }),
};

function newAjv() {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats.default(ajv);
  return ajv;
}

/** Every value under `node` with its JSON pointer. */
function* walk(node: unknown, pointer = ''): Generator<[string, unknown]> {
  yield [pointer, node];
  if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) yield* walk(value, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`);
  }
}

function resolve(document: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref.slice(2).split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~')).reduce<any>((node, key) => node?.[key], document);
}

describe('the admin OpenAPI document', () => {
  let server: TestServer;
  let document: Json;

  beforeAll(async () => {
    server = await startTestServer();
    const res = await fetch(`${server.url}/admin/v1/openapi.json`);
    expect(res.status).toBe(200);
    document = await res.json() as Json;
  });
  afterAll(async () => { await server?.stop(); });

  test('covers every route of the admin router, with its method', () => {
    // the live router, found among the app's middleware (as the authorization matrix does)
    const dispatch = server.app.middleware.find((mw) => (mw as { router?: Router }).router?.opts.prefix === ADMIN_PREFIX);
    const router = (dispatch as unknown as { router: Router }).router;
    const documented = new Set(Object.entries(document.paths as Json).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)));
    const routes = router.stack
      .filter((layer) => layer.methods.length && !String(layer.path).endsWith('{/*rest}'))
      .flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((method) => `${method} ${String(layer.path).replace(/:(\w+)/g, '{$1}')}`));
    expect(routes.length).toBeGreaterThan(30);
    expect(routes.filter((route) => !documented.has(route))).toEqual([]);
    for (const route of ['PATCH /admin/v1/users/{idOrUsername}', 'PATCH /admin/v1/clients/{clientId}', 'PATCH /admin/v1/resources/{identifier}', 'POST /admin/v1/keys/rotate']) {
      expect(documented).toContain(route);
    }
  });

  test('is a valid OpenAPI 3.1 document', () => {
    const validate = newAjv().compile(OPENAPI_31);
    const valid = validate(document);
    expect(valid ? [] : validate.errors).toEqual([]);

    // the check can fail: a wrong status key, an unknown operation field, a path parameter not required
    const broken = JSON.parse(JSON.stringify(document));
    const item = broken.paths['/admin/v1/users/{idOrUsername}'];
    item.get.responses['2000'] = { description: 'no such status' };
    expect(validate(broken)).toBe(false);
    const unknownField = JSON.parse(JSON.stringify(document));
    unknownField.paths['/admin/v1/users'].post.requestSchema = {};
    expect(validate(unknownField)).toBe(false);
    const optionalPathParameter = JSON.parse(JSON.stringify(document));
    optionalPathParameter.paths['/admin/v1/users/{idOrUsername}'].get.parameters[0].required = false;
    expect(validate(optionalPathParameter)).toBe(false);
  });

  test('every $ref resolves, every path variable is a path parameter', () => {
    const unresolved = [...walk(document)].filter(([pointer, node]) => pointer.endsWith('/$ref') && resolve(document, node as string) === undefined);
    expect(unresolved).toEqual([]);
    for (const [path, item] of Object.entries(document.paths as Json)) {
      const variables = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const operation of Object.values(item as Json)) {
        const pathParameters = ((operation as Json).parameters ?? []).filter((p: Json) => p.in === 'path');
        expect({ path, parameters: pathParameters.map((p: Json) => p.name).sort() }).toEqual({ path, parameters: variables });
      }
    }
  });

  test('every schema in it is valid JSON Schema 2020-12 (the OpenAPI 3.1 dialect)', () => {
    const ajv = newAjv();
    // the components, once, so that $refs between them resolve
    ajv.addSchema({ $id: 'https://tessera.test/openapi', components: document.components }, 'openapi');
    const schemas = [...walk(document)].filter(([pointer]) => /\/schema$/.test(pointer) || /^\/components\/schemas\/[^/]+$/.test(pointer));
    expect(schemas.length).toBeGreaterThan(20);
    for (const [pointer, schema] of schemas) {
      const absolute = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"https://tessera.test/openapi#/components/'));
      expect({ pointer, ok: ajv.validateSchema(absolute) }).toEqual({ pointer, ok: true });
      expect(() => ajv.compile(absolute)).not.toThrow();
    }
  });

  test('validates against the OpenAPI Initiative\'s own 3.1 schema (and a broken copy does not)', async () => {
    const { validate } = await import('@hyperjump/json-schema/openapi-3-1');
    // re-parsed here: fetch's objects come from outside jest's realm, and the validator checks prototypes
    const copy = JSON.parse(JSON.stringify(document));
    const output = await validate(OFFICIAL_SCHEMA, copy, 'BASIC');
    expect(output.valid ? [] : output.errors).toEqual([]);
    const broken = JSON.parse(JSON.stringify(document));
    const [firstPath] = Object.keys(broken.paths);
    broken.paths[firstPath].get = { responses: 'none' };
    expect((await validate(OFFICIAL_SCHEMA, broken)).valid).toBe(false);
  });
});
