import { z } from 'zod';

/**
 * A request field described once, as data. Zod validators, query-string
 * coercion and the OpenAPI schemas are all derived from these descriptors,
 * so a field's rules live in exactly one place.
 */
export type FieldSpec =
  | { readonly type: 'string'; readonly minLength?: number; readonly maxLength: number; readonly pattern?: RegExp; readonly description?: string }
  | { readonly type: 'integer'; readonly minimum?: number; readonly maximum?: number; readonly enum?: readonly number[]; readonly description?: string }
  | { readonly type: 'array'; readonly items: FieldSpec; readonly minItems: number; readonly maxItems: number; readonly description?: string };

export interface FieldUse {
  readonly spec: FieldSpec;
  readonly required: boolean;
}

export type FieldSet = Readonly<Record<string, FieldUse>>;

/** Printable: no control characters (Cc) nor lone surrogates (Cs, which no JSON encoder can send). */
const PRINTABLE = /^[^\p{Cc}\p{Cs}]+$/u;

export const fields = {
  lang: { type: 'string', minLength: 2, maxLength: 16, pattern: /^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$/, description: 'Language of the content, e.g. `fr` or `en`.' },
  partnerClientId: { type: 'string', minLength: 1, maxLength: 128, pattern: PRINTABLE, description: "The partner's own identifier of the user." },
  email: { type: 'string', minLength: 3, maxLength: 254, pattern: /^[^\s@]+@[^\s@]+$/, description: "The user's e-mail address." },
  name: { type: 'string', minLength: 1, maxLength: 128, pattern: PRINTABLE },
  dataConsentCode: { type: 'integer', enum: [-1, 0, 1], description: 'Consent to data use: -1 unknown, 0 refused, 1 given.' },
  page: { type: 'integer', minimum: 1, maximum: 1_000_000, description: 'Page number, from 1.' },
  limit: { type: 'integer', minimum: 1, maximum: 100, description: 'Items per page (1-100, default 20).' },
  action: { type: 'string', minLength: 1, maxLength: 64, pattern: PRINTABLE, description: 'Action code of the program.' },
  param1: { type: 'string', minLength: 1, maxLength: 256, pattern: PRINTABLE, description: 'Discriminator making an action unique (an order id, an article id...).' },
  giftId: { type: 'string', minLength: 1, maxLength: 64, pattern: PRINTABLE, description: 'Gift identifier.' },
  date: { type: 'string', minLength: 10, maxLength: 40, pattern: /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/, description: 'ISO 8601 date of the action.' },
  since: { type: 'integer', minimum: 0, maximum: 99_999_999_999, description: 'Epoch seconds.' },
  rankingSpan: { type: 'integer', minimum: 1, maximum: 50, description: 'How many users above and below.' },
} as const satisfies Record<string, FieldSpec>;

export const partnerClientIdList: FieldSpec = {
  type: 'array',
  items: fields.partnerClientId,
  minItems: 1,
  maxItems: 1000,
  description: 'Between 1 and 1,000 partner client ids.',
};

export const req = (spec: FieldSpec): FieldUse => ({ spec, required: true });
export const opt = (spec: FieldSpec): FieldUse => ({ spec, required: false });

function zodFor(spec: FieldSpec): z.ZodType {
  switch (spec.type) {
    case 'string': {
      let s = z.string().min(spec.minLength ?? 0).max(spec.maxLength);
      if (spec.pattern) s = s.regex(spec.pattern);
      return s;
    }
    case 'integer': {
      if (spec.enum) {
        const allowed = spec.enum;
        return z.number().int().refine((n) => allowed.includes(n), { message: `must be one of ${allowed.join(', ')}` });
      }
      let n = z.number().int();
      if (spec.minimum !== undefined) n = n.min(spec.minimum);
      if (spec.maximum !== undefined) n = n.max(spec.maximum);
      return n;
    }
    case 'array':
      return z.array(zodFor(spec.items)).min(spec.minItems).max(spec.maxItems);
  }
}

/**
 * Whether `value` satisfies `spec`: for values that reach the upstream without passing a request
 * schema (an identity taken from an ID token or an ingress header).
 */
export function conformsTo(spec: FieldSpec): (value: unknown) => boolean {
  const schema = zodFor(spec);
  return (value) => schema.safeParse(value).success;
}

/** A strict object schema: unknown keys are refused, never silently dropped. */
export function zodObjectFor(set: FieldSet): z.ZodType<Record<string, unknown>> {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, use] of Object.entries(set)) {
    shape[name] = use.required ? zodFor(use.spec) : zodFor(use.spec).optional();
  }
  return z.strictObject(shape);
}

/**
 * Turns query-string values into the types the schema expects. Only integers
 * need it; anything that does not look like one is left as a string so the
 * schema reports it, rather than being guessed at here.
 */
export function coerceQuery(set: FieldSet, query: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    const use = Object.prototype.hasOwnProperty.call(set, key) ? set[key] : undefined;
    if (use && use.spec.type === 'integer' && typeof value === 'string' && /^-?\d{1,15}$/.test(value)) {
      out[key] = Number(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

export interface JsonSchema {
  [key: string]: unknown;
}

export function jsonSchemaFor(spec: FieldSpec): JsonSchema {
  switch (spec.type) {
    case 'string':
      return {
        type: 'string',
        ...(spec.minLength !== undefined ? { minLength: spec.minLength } : {}),
        maxLength: spec.maxLength,
        ...(spec.pattern ? { pattern: spec.pattern.source } : {}),
        ...(spec.description ? { description: spec.description } : {}),
      };
    case 'integer':
      return {
        type: 'integer',
        ...(spec.enum ? { enum: [...spec.enum] } : {}),
        ...(spec.minimum !== undefined ? { minimum: spec.minimum } : {}),
        ...(spec.maximum !== undefined ? { maximum: spec.maximum } : {}),
        ...(spec.description ? { description: spec.description } : {}),
      };
    case 'array':
      return {
        type: 'array',
        items: jsonSchemaFor(spec.items),
        minItems: spec.minItems,
        maxItems: spec.maxItems,
        ...(spec.description ? { description: spec.description } : {}),
      };
  }
}

export function jsonSchemaForObject(set: FieldSet): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, use] of Object.entries(set)) {
    properties[name] = jsonSchemaFor(use.spec);
    if (use.required) required.push(name);
  }
  return { type: 'object', additionalProperties: false, properties, ...(required.length ? { required } : {}) };
}
