import { BadRequest } from '../errors';
import type { EndpointSpec } from '../upstream/catalogue';
import { coerceQuery } from '../upstream/fields';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks a request body (or a GET's query) against the endpoint's schema
 * before anything is forwarded. Returns a fresh object holding only the
 * validated fields, in the schema's types.
 */
export function validateInput(endpoint: EndpointSpec, input: unknown, source: 'body' | 'query'): Record<string, unknown> {
  if (!isPlainObject(input)) throw new BadRequest('The body must be a JSON object.');
  for (const key of Object.keys(input)) {
    if (FORBIDDEN_KEYS.has(key)) throw new BadRequest(`Field "${key}" is not allowed.`);
  }
  const candidate = source === 'query' ? coerceQuery(endpoint.fields, input) : input;
  if (source === 'query') {
    for (const [k, v] of Object.entries(candidate)) {
      if (Array.isArray(v) || isPlainObject(v)) throw new BadRequest(`Query parameter "${k}" must appear once, as a plain value.`);
    }
  }
  const result = endpoint.schema.safeParse(candidate);
  if (!result.success) {
    const issues = result.error.issues.map((i) => {
      const where = i.path.length ? i.path.join('.') : 'body';
      return i.code === 'unrecognized_keys' ? `unknown field(s) ${(i as { keys: string[] }).keys.join(', ')}` : `${where}: ${i.message}`;
    });
    throw new BadRequest(`Invalid ${source}: ${issues.join('; ')}.`, { extra: { issues } });
  }
  return result.data;
}
