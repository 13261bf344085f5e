/**
 * Building blocks shared by the admin API's JSON Schemas (draft 2020-12, the
 * dialect of OpenAPI 3.1, so the same objects validate requests and document
 * them). Every string that reaches the database is bounded and free of
 * control characters: Postgres refuses NUL bytes, and a refused insert must be
 * a 400 here, not a 500 there.
 */
export type JsonSchema = Record<string, unknown>;

/** Printable text without control characters. */
export const PLAIN_TEXT = '^[^\\u0000-\\u001f\\u007f]*$';

export const text = (maxLength: number, extra: JsonSchema = {}): JsonSchema =>
  ({ type: 'string', minLength: 1, maxLength, pattern: PLAIN_TEXT, ...extra });

export const username: JsonSchema = {
  type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._@-]+$',
  description: 'letters, digits and . _ @ -',
};

export const email: JsonSchema = { type: 'string', format: 'email', maxLength: 254 };

/** RFC 6749 scope-token characters. */
export const scopeToken: JsonSchema = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' };

export const role: JsonSchema = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' };

/** An absolute URI without a fragment (RFC 8707 resource indicators and redirect URIs alike). */
export const absoluteUri: JsonSchema = { type: 'string', format: 'uri', maxLength: 2048, pattern: '^[^#\\s]+$' };

export const list = (items: JsonSchema, maxItems = 100, extra: JsonSchema = {}): JsonSchema =>
  ({ type: 'array', items, maxItems, uniqueItems: true, ...extra });

export const object = (properties: Record<string, JsonSchema>, required: string[] = [], extra: JsonSchema = {}): JsonSchema =>
  ({ type: 'object', additionalProperties: false, properties, required, ...extra });

/** Query: ?limit=1..200 (default 50) &offset=0.. */
export const pagination: Record<string, JsonSchema> = {
  limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
  offset: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
};

/** Identifiers in paths: bounded, printable, so a lookup never errors in the store. */
export const pathId: JsonSchema = { type: 'string', minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7E]+$' };
export const pathUri: JsonSchema = { type: 'string', minLength: 1, maxLength: 2048, pattern: '^[\\x21-\\x7E]+$' };

export const problemSchema: JsonSchema = {
  title: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    errors: { type: 'array', items: object({ field: { type: 'string' }, message: { type: 'string' } }, ['field', 'message']) },
  },
};
