import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FieldError } from './problem.ts';
import type { JsonSchema } from './schemas/common.ts';

function createAjv(options: { forQuery: boolean }): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, coerceTypes: options.forQuery, useDefaults: options.forQuery });
  addFormats.default(ajv);
  return ajv;
}

// Bodies are JSON and must have the right types; query strings are all text,
// so "limit=10" has to be coerced to a number before it is checked (and an
// absent one takes its default).
const bodyAjv = createAjv({ forQuery: false });
const queryAjv = createAjv({ forQuery: true });

export type Validator = (data: unknown) => { ok: true; value: unknown } | { ok: false; errors: FieldError[] };

function wrap(validate: ValidateFunction): Validator {
  return (data) => (validate(data) ? { ok: true, value: data } : { ok: false, errors: fieldErrors(validate.errors ?? []) });
}

export const compileBody = (schema: JsonSchema): Validator => wrap(bodyAjv.compile(schema));
export const compileQuery = (schema: JsonSchema): Validator => wrap(queryAjv.compile(schema));

const decodePointer = (segment: string) => segment.replaceAll('~1', '/').replaceAll('~0', '~');

/** ajv errors → [{ field: 'users.0.username', message: '...' }], one per field and problem. */
export function fieldErrors(errors: ErrorObject[], prefix: string[] = []): FieldError[] {
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const error of errors) {
    const path = [...prefix, ...error.instancePath.split('/').slice(1).map(decodePointer)];
    let message = error.message ?? 'is invalid';
    if (error.keyword === 'required') {
      path.push((error.params as { missingProperty: string }).missingProperty);
      message = 'is required';
    } else if (error.keyword === 'additionalProperties') {
      path.push((error.params as { additionalProperty: string }).additionalProperty);
      message = 'is not a known field';
    } else if (error.keyword === 'enum') {
      message = `must be one of: ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    }
    const field = path.join('.') || '(body)';
    const key = `${field}\u0000${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ field, message });
    }
  }
  return out;
}
