/**
 * JSON-schema validation (Ajv, every error at once) turned into Kazoo's validation error:
 * 400 `validation error` with `{"<dotted.field>": {"<code>": {message, target?, value?}}}`,
 * the codes being JSON-schema keywords as Kazoo's validator names them (required,
 * minLength, maxLength, type, enum, pattern, minimum, maximum, ...) with the messages of
 * Kazoo's kz_json_schema; a nested field is one dotted key (`"sip.username"`), as Kazoo's.
 *
 * `validator(schema)` compiles once; the function it answers throws that CbError, or
 * returns the data with the schema's defaults filled in.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { validationError, type FieldErrors } from './errors.ts';

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, verbose: true });

function fieldName(e: ErrorObject): string {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') path.push(String((e.params as { missingProperty: string }).missingProperty));
  return path.join('.') || 'data';
}

function describe(e: ErrorObject): Record<string, unknown> {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { message: 'Field is required but missing' };
    case 'maxItems':
      return { message: `The list is more than ${String(p.limit)} items`, target: p.limit };
    case 'minLength':
      return {
        message: `String must be at least ${String(p.limit)} characters`,
        target: p.limit,
        value: e.data,
      };
    case 'maxLength':
      return {
        message: `String must not be more than ${String(p.limit)} characters`,
        target: p.limit,
        value: e.data,
      };
    case 'type':
      return { message: `Value did not match type(s): ${String(p.type)}`, target: p.type, value: e.data };
    case 'enum':
      return {
        message: 'Value not found in enumerated list of values',
        target: p.allowedValues,
        value: e.data,
      };
    case 'minimum':
      return { message: `Value must be at least ${String(p.limit)}`, target: p.limit, value: e.data };
    case 'maximum':
      return { message: `Value must be at most ${String(p.limit)}`, target: p.limit, value: e.data };
    case 'pattern':
      return { message: `Failed to match pattern '${String(p.pattern)}'`, target: p.pattern, value: e.data };
    case 'minItems':
      return { message: `The list must have at least ${String(p.limit)} items`, target: p.limit };
    default:
      return { message: e.message ?? e.keyword };
  }
}

export function toFieldErrors(errors: readonly ErrorObject[]): FieldErrors {
  const out: FieldErrors = {};
  for (const e of errors) {
    const field = fieldName(e);
    (out[field] ??= {})[e.keyword] = describe(e);
  }
  return out;
}

export function validator(schema: object): (data: Record<string, unknown>) => Record<string, unknown> {
  const check = ajv.compile({ ...schema, $async: false });
  return (data) => {
    if (!check(data)) throw validationError(toFieldErrors(check.errors ?? []));
    return data;
  };
}
