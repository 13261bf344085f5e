import type { AdminRoute } from './define.ts';
import { problemSchema, type JsonSchema } from './schemas/common.ts';

type Operation = Record<string, unknown>;

/**
 * The OpenAPI 3.1 document, rendered from the route declarations and the very
 * schemas that validate requests (JSON Schema 2020-12 is OpenAPI 3.1's dialect).
 */
export function buildOpenApiDocument(routes: AdminRoute[], options: { issuer: string; prefix: string }) {
  const schemas: Record<string, JsonSchema> = { Problem: problemSchema };
  // named schemas go to components; the others stay inline
  const ref = (schema: JsonSchema): JsonSchema => {
    const title = schema.title;
    if (typeof title !== 'string') return schema;
    schemas[title] = schema;
    return { $ref: `#/components/schemas/${title}` };
  };
  const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref(problemSchema) } } });
  const listOf = (schema: JsonSchema): JsonSchema => ({
    type: 'object',
    properties: { items: { type: 'array', items: ref(schema) }, limit: { type: 'integer' }, offset: { type: 'integer' } },
  });

  const paths: Record<string, Record<string, Operation>> = {};
  for (const route of routes) {
    const path = options.prefix + route.path.replace(/:(\w+)/g, '{$1}');
    const query = (route.query?.properties ?? {}) as Record<string, JsonSchema>;
    const requiredQuery = new Set((route.query?.required ?? []) as string[]);
    const parameters = [
      ...Object.entries(route.params ?? {}).map(([name, schema]) => ({ name, in: 'path', required: true, schema })),
      ...Object.entries(query).map(([name, schema]) => ({ name, in: 'query', required: requiredQuery.has(name), schema })),
    ];
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      const schema = response.schema && (response.list ? listOf(response.schema) : ref(response.schema));
      responses[status] = Number(status) >= 400
        ? problemResponse(response.description)
        : { description: response.description, ...(schema || Number(status) !== 204 ? { content: { [response.contentType ?? 'application/json']: { schema: schema ?? { type: 'object' } } } } : {}) };
    }
    if (route.body || route.query) responses['400'] = problemResponse('the request is invalid; errors names each field');
    responses['401'] = problemResponse('no valid admin access token');
    responses['403'] = problemResponse('the access token lacks the admin scope');
    paths[path] ??= {};
    paths[path][route.method] = {
      tags: [route.tag],
      summary: route.summary,
      ...(parameters.length ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: ref(route.body) } } } } : {}),
      responses,
    };
  }
  paths[`${options.prefix}/openapi.json`] = {
    get: { tags: ['meta'], summary: 'This document', security: [], responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } },
  };

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Tessera admin API',
      version: '1',
      description: `Bearer access tokens issued by this server for the resource ${options.issuer}/admin with scope "admin" (client_credentials with the admin client). Errors are RFC 9457 application/problem+json.`,
    },
    servers: [{ url: options.issuer }],
    security: [{ adminToken: ['admin'] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        adminToken: {
          type: 'oauth2',
          flows: { clientCredentials: { tokenUrl: `${options.issuer}/token`, scopes: { admin: 'administer Tessera' } } },
        },
      },
    },
  };
}
