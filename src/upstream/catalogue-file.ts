import { readFileSync } from 'node:fs';
import {
  builtInCatalogue,
  catalogueOf,
  defineEndpoint,
  type CachePolicy,
  type Catalogue,
  type Effect,
  type EarnSpec,
  type EndpointSpec,
  type EntryInput,
  type Side,
  type TokenKind,
} from './catalogue';
import type { FieldSet, FieldSpec, FieldUse, JsonSchema } from './fields';

/**
 * `APM_CATALOGUE_FILE`: a JSON document that extends or amends the built-in
 * catalogue at start-up, for the real API's parameters and endpoints that the
 * built-in table does not know, without a fork:
 *
 * ```json
 * {
 *   "endpoints": {
 *     "partner/getprog": { "fields": { "country": { "type": "string", "minLength": 2, "maxLength": 2 } } },
 *     "user/historyburns": { "fields": { "limit": { "maximum": 50 } } },
 *     "ad/news": { "exposed": false },
 *     "partner/stores": { "side": "front", "token": "user", "effect": "read", "get": true, "fields": {} }
 *   }
 * }
 * ```
 *
 * Every problem is reported, one line each, and the start refused: a typo in
 * the file must never silently leave the built-in behaviour in force, nor
 * publish a back-end endpoint to browsers.
 */
export interface CatalogueFileResult {
  readonly catalogue: Catalogue;
  /** One line per problem, naming where in the file (empty when the file is sound). */
  readonly problems: readonly string[];
}

const SIDES: readonly Side[] = ['front', 'back'];
const TOKENS: readonly TokenKind[] = ['none', 'user', 'backend'];
const EFFECTS: readonly Effect[] = ['read', 'mutation'];
const CACHES: readonly CachePolicy[] = ['none', 'program', 'ads'];
const ENDPOINT_KEYS = ['side', 'token', 'effect', 'get', 'cache', 'idempotent', 'exposed', 'summary', 'fields', 'exposeBackEndToBrowsers', 'earn'] as const;
const FIELD_KEYS: Readonly<Record<FieldSpec['type'], readonly string[]>> = {
  string: ['minLength', 'maxLength', 'pattern', 'description'],
  integer: ['minimum', 'maximum', 'enum', 'description'],
  array: ['items', 'minItems', 'maxItems', 'description'],
};
const FIELD_TYPES = Object.keys(FIELD_KEYS) as FieldSpec['type'][];

/** Paths of the service's own routes, which an added endpoint may not shadow. */
const RESERVED: Readonly<Record<Side, ReadonlySet<string>>> = {
  front: new Set(['session', 'openapi.json', 'endpoints.json', 'auth/login', 'auth/callback', 'auth/backchannel-logout']),
  back: new Set(['sessions/revoke', 'cache/purge', 'openapi.json']),
};

/** The `data` of an added endpoint: the file says nothing of it, so it stays open. */
const UNDESCRIBED_DATA: JsonSchema = { type: 'object', description: 'Not described: an endpoint added by APM_CATALOGUE_FILE.' };

/** The fields of an earn a file declares: those of the built-in earns. */
const EARN: EarnSpec = Object.freeze({ actionField: 'action', uniqueField: 'param1' });

/** `auth/token` is called by the service itself, with a body it decides. */
const UNTOUCHABLE = new Set(['auth/token']);

const ENDPOINT_PATH = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORBIDDEN_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Json, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);
const oneOf = (values: readonly string[]): string => values.join(', ');

/** Reads, parses and applies the file; read and parse failures are problems too. */
export function readCatalogueFile(file: string, base: Catalogue = builtInCatalogue): CatalogueFileResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { catalogue: base, problems: [`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}).`] };
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    return { catalogue: base, problems: [`${file} is not JSON (${(err as Error).message}).`] };
  }
  return applyCatalogueDocument(document, base);
}

/** Applies a parsed catalogue document to `base`; the result holds every problem found. */
export function applyCatalogueDocument(document: unknown, base: Catalogue = builtInCatalogue): CatalogueFileResult {
  const problems: string[] = [];
  if (!isObject(document)) return { catalogue: base, problems: ['the file must hold a JSON object with "endpoints".'] };
  for (const key of Object.keys(document)) {
    if (key !== 'endpoints' && key !== '$comment') problems.push(`"${key}": unknown property (known: endpoints, $comment).`);
  }
  const endpoints = document.endpoints;
  if (!isObject(endpoints)) {
    problems.push('"endpoints": must be an object of endpoint paths.');
    return { catalogue: base, problems };
  }

  const amended = new Map<string, EndpointSpec>();
  const added: EndpointSpec[] = [];
  for (const [path, raw] of Object.entries(endpoints)) {
    const where = `endpoints[${show(path)}]`;
    const before = problems.length;
    const spec = endpointFrom(where, path, raw, base.find(path), problems);
    if (!spec || problems.length > before) continue;
    if (base.find(path)) amended.set(path, spec);
    else added.push(spec);
  }
  if (problems.length > 0) return { catalogue: base, problems };
  return { catalogue: catalogueOf([...base.entries.map((e) => amended.get(e.path) ?? e), ...added]), problems };
}

function endpointFrom(where: string, path: string, raw: unknown, existing: EndpointSpec | undefined, problems: string[]): EndpointSpec | undefined {
  if (!ENDPOINT_PATH.test(path)) {
    problems.push(`${where}: not an endpoint path (segments of letters, digits, _ and -, joined by /, e.g. partner/getprog).`);
    return undefined;
  }
  if (!isObject(raw)) {
    problems.push(`${where}: must be an object.`);
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    if (!(ENDPOINT_KEYS as readonly string[]).includes(key)) problems.push(`${where}.${key}: unknown property (known: ${oneOf(ENDPOINT_KEYS)}).`);
  }
  if (!existing && !has(raw, 'side')) {
    problems.push(`${where}: unknown endpoint; to add one, give at least its "side" (front or back) and "effect" (read or mutation).`);
    return undefined;
  }
  if (existing && UNTOUCHABLE.has(path)) {
    problems.push(`${where}: ${path} is called by the service itself and cannot be changed.`);
    return undefined;
  }

  const pick = <T extends string>(key: string, values: readonly T[]): T | undefined => {
    if (!has(raw, key)) return undefined;
    const v = raw[key];
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    problems.push(`${where}.${key}: ${show(v)} is not one of ${oneOf(values)}.`);
    return undefined;
  };
  const flag = (key: string): boolean | undefined => {
    if (!has(raw, key)) return undefined;
    if (typeof raw[key] === 'boolean') return raw[key];
    problems.push(`${where}.${key}: ${show(raw[key])} is not true or false.`);
    return undefined;
  };

  const side = pick('side', SIDES) ?? existing?.side;
  const effect = pick('effect', EFFECTS) ?? existing?.effect;
  if (!side) return undefined;
  if (!effect) {
    if (!has(raw, 'effect')) problems.push(`${where}.effect: required for an added endpoint (read or mutation).`);
    return undefined;
  }
  const token = pick('token', TOKENS) ?? (existing && existing.side === side ? existing.token : side === 'front' ? 'user' : 'backend');
  const allowGet = flag('get') ?? existing?.allowGet ?? false;
  const cache = pick('cache', CACHES) ?? existing?.cache ?? 'none';
  const idempotent = flag('idempotent') ?? existing?.idempotent ?? false;
  const exposed = flag('exposed') ?? existing?.exposed ?? true;
  const exposeBackEnd = flag('exposeBackEndToBrowsers') ?? false;
  const earnFlag = flag('earn');
  let summary = existing?.summary ?? `${path} (added by APM_CATALOGUE_FILE).`;
  if (has(raw, 'summary')) {
    if (typeof raw.summary === 'string' && raw.summary.length > 0 && raw.summary.length <= 500) summary = raw.summary;
    else problems.push(`${where}.summary: must be a text of 1 to 500 characters.`);
  }
  const fields = has(raw, 'fields') ? fieldsFrom(`${where}.fields`, raw.fields, existing?.fields ?? {}, existing?.readFields ?? [], problems) : (existing?.fields ?? {});
  if (!fields) return undefined;

  // What the service relies on about the endpoints that act on its own sessions.
  if (existing && existing.sessionEffect !== 'none') {
    for (const [key, now, then] of [['side', side, existing.side], ['token', token, existing.token], ['effect', effect, existing.effect], ['exposed', exposed, existing.exposed]] as const) {
      if (now !== then) problems.push(`${where}.${key}: ${path} ends or opens this service's sessions; its ${key} cannot change.`);
    }
  }
  if (!existing && RESERVED[side].has(path)) problems.push(`${where}: ${path} is a route of the service itself on that side.`);
  const backEndOnFront = side === 'front' && (token === 'backend' || existing?.side === 'back');
  if (backEndOnFront && exposed && !exposeBackEnd) {
    problems.push(
      `${where}: this would expose a back-end endpoint to browsers on /api (${token === 'backend' ? 'signed with the back-end token' : 'a back-end endpoint of the upstream'}); add "exposeBackEndToBrowsers": true if that is meant.`,
    );
  }
  if (side === 'back' && token === 'user') problems.push(`${where}.token: a back-end endpoint has no user session to sign with (none or backend).`);
  if (allowGet && effect !== 'read') problems.push(`${where}.get: only reads answer GET.`);
  if (allowGet && side === 'back') problems.push(`${where}.get: /internal routes are POST only.`);
  if (idempotent && effect !== 'mutation') problems.push(`${where}.idempotent: only mutations take an Idempotency-Key.`);
  if (cache !== 'none') {
    if (side !== 'front' || effect !== 'read') problems.push(`${where}.cache: only front-end reads are cached.`);
    else if (cache === 'program' && token !== 'none') problems.push(`${where}.cache: "program" answers are shared publicly, so only an endpoint with token "none" may use it ("ads" for one that needs a session).`);
    else if (cache === 'ads' && token !== 'user') problems.push(`${where}.cache: "ads" is for endpoints that need a session (token "user"); use "program" for token "none".`);
  }

  // An earn is held to BROWSER_ACTIONS on /api and may settle an unknown outcome: a file may declare one, never undeclare one.
  if (earnFlag === false && existing?.earn) problems.push(`${where}.earn: ${path} is an earn (BROWSER_ACTIONS applies to it); it stays one.`);
  const earn = earnFlag ? EARN : existing?.earn;
  if (earnFlag) {
    if (effect !== 'mutation') problems.push(`${where}.earn: only mutations store an action.`);
    for (const [name, required] of [[EARN.actionField, true], [EARN.uniqueField, false]] as const) {
      const use = fields[name];
      if (!use || use.spec.type !== 'string' || (required && !use.required)) {
        problems.push(`${where}.earn: an earn needs a${required ? ' required' : ''} string field "${name}".`);
      }
    }
  }

  const input: EntryInput = {
    ...(existing ?? { sessionEffect: 'none' as const, data: UNDESCRIBED_DATA }),
    path,
    side,
    token,
    effect,
    fields,
    allowGet,
    idempotent,
    cache,
    exposed,
    summary,
    ...(earn ? { earn } : {}),
    // Derived again from what this entry now is: an earn declared here is read by the service.
    ...(existing && earn === existing.earn ? {} : { readFields: undefined }),
  };
  return defineEndpoint(input);
}

function fieldsFrom(where: string, raw: unknown, existing: FieldSet, protectedNames: readonly string[], problems: string[]): FieldSet | undefined {
  if (!isObject(raw)) {
    problems.push(`${where}: must be an object of field names.`);
    return undefined;
  }
  const out: Record<string, FieldUse> = { ...existing };
  for (const [name, value] of Object.entries(raw)) {
    const at = `${where}.${name}`;
    if (!FIELD_NAME.test(name) || FORBIDDEN_NAMES.has(name)) {
      problems.push(`${at}: not a field name (a letter or _, then letters, digits or _).`);
      continue;
    }
    const current = has(existing, name) ? existing[name] : undefined;
    const guarded = protectedNames.includes(name);
    if (value === null) {
      if (!current) problems.push(`${at}: null removes a field, and there is no such field.`);
      else if (guarded) problems.push(`${at}: the service reads this field; it cannot be removed.`);
      else delete out[name];
      continue;
    }
    if (!isObject(value)) {
      problems.push(`${at}: must be a field object, or null to remove the field.`);
      continue;
    }
    const retyped = has(value, 'type');
    const spec = specFrom(at, value, retyped ? undefined : current?.spec, problems);
    let required = current?.required ?? false;
    if (has(value, 'required')) {
      if (typeof value.required === 'boolean') required = value.required;
      else problems.push(`${at}.required: ${show(value.required)} is not true or false.`);
    }
    if (guarded && current && ((spec && spec.type !== current.spec.type) || required !== current.required)) {
      problems.push(`${at}: the service reads this field; its limits may change, not its type or whether it is required.`);
      continue;
    }
    if (spec) out[name] = { spec, required };
  }
  return out;
}

/** A field spec from the file: a whole new one when `base` is absent, else `base` with the given limits changed. */
function specFrom(where: string, raw: Json, base: FieldSpec | undefined, problems: string[]): FieldSpec | undefined {
  let type: FieldSpec['type'];
  if (has(raw, 'type')) {
    if (!FIELD_TYPES.includes(raw.type as FieldSpec['type'])) {
      problems.push(`${where}.type: ${show(raw.type)} is not one of ${oneOf(FIELD_TYPES)}.`);
      return undefined;
    }
    type = raw.type as FieldSpec['type'];
  } else if (base) {
    type = base.type;
  } else {
    problems.push(`${where}: a new field needs a "type" (${oneOf(FIELD_TYPES)}).`);
    return undefined;
  }
  const before = problems.length;
  for (const key of Object.keys(raw)) {
    if (key !== 'type' && key !== 'required' && !FIELD_KEYS[type].includes(key)) {
      problems.push(`${where}.${key}: unknown property of a${type === 'integer' || type === 'array' ? 'n' : ''} ${type} field (known: type, required, ${oneOf(FIELD_KEYS[type])}).`);
    }
  }
  const count = (key: string, min = 0): number | undefined => {
    if (!has(raw, key)) return undefined;
    const v = raw[key];
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min) return v;
    problems.push(`${where}.${key}: ${show(v)} is not a whole number${min > Number.MIN_SAFE_INTEGER ? ` of at least ${min}` : ''}.`);
    return undefined;
  };
  const description = has(raw, 'description') ? (typeof raw.description === 'string' ? raw.description : (problems.push(`${where}.description: must be a text.`), undefined)) : base?.description;
  const withDescription = description === undefined ? {} : { description };

  let spec: FieldSpec | undefined;
  switch (type) {
    case 'string': {
      const from = base?.type === 'string' ? base : undefined;
      const minLength = count('minLength') ?? from?.minLength;
      const maxLength = count('maxLength', 1) ?? from?.maxLength;
      let pattern = from?.pattern;
      if (has(raw, 'pattern')) {
        try {
          if (typeof raw.pattern !== 'string') throw new TypeError('not a text');
          pattern = new RegExp(raw.pattern, 'u');
        } catch (err) {
          problems.push(`${where}.pattern: not a regular expression (${(err as Error).message}).`);
        }
      }
      // Every text is bounded: an unbounded field would let a caller send anything up to the body limit upstream.
      if (maxLength === undefined) problems.push(`${where}.maxLength: required for a string field.`);
      else if (minLength !== undefined && minLength > maxLength) problems.push(`${where}: minLength ${minLength} is over maxLength ${maxLength}.`);
      if (maxLength !== undefined) spec = { type, maxLength, ...(minLength !== undefined ? { minLength } : {}), ...(pattern ? { pattern } : {}), ...withDescription };
      break;
    }
    case 'integer': {
      const from = base?.type === 'integer' ? base : undefined;
      const minimum = count('minimum', Number.MIN_SAFE_INTEGER) ?? from?.minimum;
      const maximum = count('maximum', Number.MIN_SAFE_INTEGER) ?? from?.maximum;
      let values = from?.enum;
      if (has(raw, 'enum')) {
        const v = raw.enum;
        if (Array.isArray(v) && v.length > 0 && v.every((n) => Number.isSafeInteger(n))) values = v as number[];
        else problems.push(`${where}.enum: must be a non-empty list of whole numbers.`);
      }
      if (minimum !== undefined && maximum !== undefined && minimum > maximum) problems.push(`${where}: minimum ${minimum} is over maximum ${maximum}.`);
      spec = { type, ...(minimum !== undefined ? { minimum } : {}), ...(maximum !== undefined ? { maximum } : {}), ...(values ? { enum: values } : {}), ...withDescription };
      break;
    }
    case 'array': {
      const from = base?.type === 'array' ? base : undefined;
      const minItems = count('minItems') ?? from?.minItems ?? 0;
      const maxItems = count('maxItems', 1) ?? from?.maxItems;
      let items = from?.items;
      if (has(raw, 'items')) {
        if (isObject(raw.items) && !has(raw.items, 'required')) items = specFrom(`${where}.items`, raw.items, has(raw.items, 'type') ? undefined : from?.items, problems);
        else problems.push(`${where}.items: must be a field object (without "required").`);
      }
      if (!items && !has(raw, 'items')) problems.push(`${where}.items: required for an array field.`);
      if (maxItems === undefined) problems.push(`${where}.maxItems: required for an array field.`);
      else if (minItems > maxItems) problems.push(`${where}: minItems ${minItems} is over maxItems ${maxItems}.`);
      if (items && maxItems !== undefined) spec = { type, items, minItems, maxItems, ...withDescription };
      break;
    }
  }
  return problems.length > before ? undefined : spec;
}
