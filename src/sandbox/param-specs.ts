/**
 * The simulator's own description of request parameters, written from UPSTREAM.md and the
 * public summary alone. It shares nothing with the proxy's field table (src/upstream/fields.ts):
 * were one table used by both, a field the proxy gets wrong would be wrong in the simulator too,
 * and no test could notice. A unit test compares the two and fails on any difference.
 *
 * Only what the upstream description states is stated here: types, the integer ranges it gives
 * (`limit` 1–100, `n` 1–50, pages from 1), the list sizes (1–1000), the consent codes. Every
 * identifier is a non-empty string (an empty one is a missing parameter, errorCode 2). Length
 * limits and formats the description leaves open are the proxy's own guards, not the upstream's.
 */
export type ParamSpec =
  | { readonly type: 'string'; readonly minLength?: number; readonly maxLength?: number }
  | { readonly type: 'integer'; readonly minimum?: number; readonly maximum?: number; readonly enum?: readonly number[] }
  | { readonly type: 'array'; readonly items: ParamSpec; readonly minItems: number; readonly maxItems: number };

const text: ParamSpec = { type: 'string' };
const identifier: ParamSpec = { type: 'string', minLength: 1 };

export const upstreamParams = {
  lang: text,
  partnerClientId: identifier,
  email: text,
  firstName: text,
  lastName: text,
  dataConsentCode: { type: 'integer', enum: [-1, 0, 1] },
  page: { type: 'integer', minimum: 1 },
  limit: { type: 'integer', minimum: 1, maximum: 100 },
  action: identifier,
  param1: identifier,
  giftId: identifier,
  date: text,
  since: { type: 'integer', minimum: 0 },
  n: { type: 'integer', minimum: 1, maximum: 50 },
  partnerClientIds: { type: 'array', items: identifier, minItems: 1, maxItems: 1000 },
} as const satisfies Record<string, ParamSpec>;
