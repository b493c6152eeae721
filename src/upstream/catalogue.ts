import type { z } from 'zod';
import { answerData as a } from './answers';
import { fields as f, opt, partnerClientIdList, req, zodObjectFor, type FieldSet, type JsonSchema } from './fields';

/**
 * The one table of upstream endpoints. Public and internal routes, request
 * validation, cache policy, idempotency, OpenAPI documents and a good part of
 * the tests are derived from it: adding an endpoint is adding one entry here.
 */

/** Which token the signature JWT carries in `sub`. */
export type TokenKind = 'none' | 'user' | 'backend';
/** Front-end endpoints are reached on `/api`, back-end ones on `/internal`. */
export type Side = 'front' | 'back';
/** Reads may be retried on a reset connection; mutations never are. */
export type Effect = 'read' | 'mutation';
/** Which cache policy applies (TTL and scope come from the settings). */
export type CachePolicy = 'none' | 'program' | 'ads';
/** What a successful call does to the sessions this service holds. */
export type SessionEffect = 'none' | 'connect' | 'end-user-sessions' | 'end-listed-users-sessions';
/** Why the caller's sessions end after a success of an `end-user-sessions` endpoint (logged and counted). */
export type SessionEnd = 'logout' | 'delete';

/** How the service reads the connect: who the user is, and where the answer holds their token. */
export interface ConnectSpec {
  /** Fields naming the user: decided by IDENTITY_MODE, so optional in a caller's body. */
  readonly identityFields: readonly string[];
  /** The object of the answer's `data` that describes the user (`data.user`). */
  readonly userField: string;
  /** Its member holding the `userToken`, kept server-side and never passed on. */
  readonly tokenField: string;
}

/**
 * An earn (an action stored for a user): the fields idempotency's settling of an unknown outcome
 * and the `BROWSER_ACTIONS` rule read. The upstream refuses a second earn with the same action
 * and unique field (errorCode 7).
 */
export interface EarnSpec {
  readonly actionField: string;
  readonly uniqueField: string;
}

export interface EndpointSpec {
  /** Upstream path, relative to `APM_BASE_URL`, e.g. `partner/getprog`. */
  readonly path: string;
  readonly side: Side;
  readonly token: TokenKind;
  readonly effect: Effect;
  /** Fields of the upstream request body. */
  readonly fields: FieldSet;
  /** JSON Schema of the `data` of a success, as the upstream sends it (src/upstream/answers.ts). */
  readonly data: JsonSchema;
  /** The `data` as this service passes it on (the connect answer loses its `userToken`); `data` by default. */
  readonly servedData: JsonSchema;
  /** Strict validator of the upstream body, built once from `fields`. */
  readonly schema: z.ZodType<Record<string, unknown>>;
  /** Reads a browser may also call with `GET` and query parameters. */
  readonly allowGet: boolean;
  /** Whether a caller may send an `Idempotency-Key`. */
  readonly idempotent: boolean;
  readonly cache: CachePolicy;
  readonly sessionEffect: SessionEffect;
  /** Reachable through this service (auth/token is used internally only). */
  readonly exposed: boolean;
  readonly summary: string;
  /** Browsers and apps call it on `/api` (the front side); partner services call the others on `/internal`. */
  readonly browser: boolean;
  /** On `/api`, whether the caller needs a connected session (401 before anything else without one). */
  readonly needsSession: boolean;
  /** For `end-user-sessions`: the reason the caller's sessions end with. */
  readonly sessionEnd?: SessionEnd;
  /** For `connect`: how the identity and the answer's token are read. */
  readonly connect?: ConnectSpec;
  /** The schema a caller's request is checked against: `schema`, but for connect the identity fields are optional. */
  readonly callerSchema: z.ZodType<Record<string, unknown>>;
  /** For `end-listed-users-sessions`: the request field listing the users whose sessions end. */
  readonly usersField?: string;
  /** For the earns: their action and unique fields. */
  readonly earn?: EarnSpec;
  /** Fields the service itself reads from a request: a catalogue file may change their limits, not their type or presence. */
  readonly readFields: readonly string[];
}

/** What is derived from the rest of an entry, never declared. */
type Derived = 'schema' | 'callerSchema' | 'browser' | 'needsSession' | 'readFields';
type Defaulted = 'allowGet' | 'idempotent' | 'cache' | 'sessionEffect' | 'exposed' | 'servedData';

export type EntryInput = Omit<EndpointSpec, Derived | Defaulted> & Partial<Pick<EndpointSpec, Defaulted | 'readFields'>>;

/** Builds an entry from its declaration: defaults filled, the validator compiled once. */
export function defineEndpoint(input: EntryInput): EndpointSpec {
  return entry(input);
}

function entry(input: EntryInput): EndpointSpec {
  // What the routes read for a session effect must be there: a missing one is a fault of this table, found at start.
  const missing =
    (input.sessionEffect === 'connect' && !input.connect && 'connect') ||
    (input.sessionEffect === 'end-user-sessions' && !input.sessionEnd && 'sessionEnd') ||
    (input.sessionEffect === 'end-listed-users-sessions' && !input.usersField && 'usersField');
  if (missing) throw new Error(`Catalogue entry ${input.path}: sessionEffect ${String(input.sessionEffect)} needs ${missing}`);
  const schema = zodObjectFor(input.fields);
  return Object.freeze({
    allowGet: false,
    idempotent: false,
    cache: 'none' as const,
    sessionEffect: 'none' as const,
    exposed: true,
    servedData: input.data,
    ...input,
    schema,
    callerSchema: input.connect ? zodObjectFor(withOptional(input.fields, input.connect.identityFields)) : schema,
    browser: input.side === 'front',
    // A back-end endpoint a catalogue file exposed to browsers still needs a connected user.
    needsSession: input.token !== 'none',
    readFields: input.readFields ?? readFieldsOf(input),
  });
}

function withOptional(fields: FieldSet, names: readonly string[]): FieldSet {
  const out: Record<string, FieldSet[string]> = { ...fields };
  for (const name of names) {
    const use = fields[name];
    if (use) out[name] = opt(use.spec);
  }
  return out;
}

/** The connect's fields are all read (identity, consent, language); an earn's action; a multidelete's users. */
function readFieldsOf(input: EntryInput): readonly string[] {
  if (input.connect) return Object.keys(input.fields);
  return [...(input.earn ? [input.earn.actionField] : []), ...(input.usersField ? [input.usersField] : [])];
}

const connectSpec: ConnectSpec = Object.freeze({ identityFields: Object.freeze(['partnerClientId', 'email', 'firstName', 'lastName']), userField: 'user', tokenField: 'userToken' });
const earnSpec: EarnSpec = Object.freeze({ actionField: 'action', uniqueField: 'param1' });

const langOnly: FieldSet = { lang: opt(f.lang) };
const paging: FieldSet = { page: opt(f.page), limit: opt(f.limit) };

export const catalogue: readonly EndpointSpec[] = Object.freeze([
  // Front-end endpoints
  entry({ path: 'partner/getprog', data: a.program, side: 'front', token: 'none', effect: 'read', fields: langOnly, allowGet: true, cache: 'program',
    summary: 'The program: its actions and gifts, for a visitor who is not connected.' }),
  entry({ path: 'partner/initialcheckstore', data: a.programAndBalance, side: 'front', token: 'user', effect: 'read', fields: langOnly, allowGet: true,
    summary: "The program plus the connected user's balance and opt-in." }),
  entry({ path: 'user/clientcheckcredentials', data: a.credentials, servedData: a.connectedUser, side: 'front', token: 'none', effect: 'mutation', sessionEffect: 'connect', connect: connectSpec,
    fields: { partnerClientId: req(f.partnerClientId), email: opt(f.email), firstName: opt(f.name), lastName: opt(f.name), dataConsentCode: opt(f.dataConsentCode), lang: opt(f.lang) },
    summary: 'Connects the user (creating them when unknown) and opens a session.' }),
  entry({ path: 'user/historyburns', data: a.burns, side: 'front', token: 'user', effect: 'read', fields: paging, allowGet: true,
    summary: 'The gifts the user bought, newest first.' }),
  entry({ path: 'user/historyearns', data: a.earns, side: 'front', token: 'user', effect: 'read', fields: paging, allowGet: true,
    summary: 'The actions the user completed, newest first.' }),
  entry({ path: 'user/logout', data: a.empty, side: 'front', token: 'user', effect: 'mutation', fields: {}, sessionEffect: 'end-user-sessions', sessionEnd: 'logout',
    summary: "Disconnects the user on every device and ends this service's sessions of that user." }),
  entry({ path: 'user/delete', data: a.empty, side: 'front', token: 'user', effect: 'mutation', fields: {}, sessionEffect: 'end-user-sessions', sessionEnd: 'delete',
    summary: 'Deletes the user and their history, and ends their sessions.' }),
  entry({ path: 'generosity/store', data: a.stored, side: 'front', token: 'user', effect: 'mutation', idempotent: true, earn: earnSpec,
    fields: { action: req(f.action), param1: opt(f.param1), lang: opt(f.lang) },
    summary: 'Validates and stores an action, earning its points.' }),
  entry({ path: 'gift/list', data: a.giftOffers, side: 'front', token: 'user', effect: 'read', fields: langOnly, allowGet: true,
    summary: 'The gifts, with whether the user can afford each.' }),
  entry({ path: 'gift/checkavailability', data: a.bought, side: 'front', token: 'user', effect: 'mutation', idempotent: true,
    fields: { giftId: req(f.giftId) },
    summary: 'Buys a gift when the user has enough points and it is in stock.' }),
  entry({ path: 'ad/bonus', data: a.ads, side: 'front', token: 'user', effect: 'read', fields: langOnly, allowGet: true, cache: 'ads',
    summary: 'Bonus ads.' }),
  entry({ path: 'ad/specials', data: a.ads, side: 'front', token: 'user', effect: 'read', fields: langOnly, allowGet: true, cache: 'ads',
    summary: 'Special-offer ads.' }),
  entry({ path: 'ad/news', data: a.ads, side: 'front', token: 'user', effect: 'read', fields: langOnly, allowGet: true, cache: 'ads',
    summary: 'News ads.' }),

  // Back-end endpoints
  entry({ path: 'auth/token', data: a.backendToken, side: 'back', token: 'none', effect: 'read', fields: {}, exposed: false,
    summary: 'Issues the back-end token; fetched and shared by this service itself.' }),
  entry({ path: 'buffer/store', data: a.stored, side: 'back', token: 'backend', effect: 'mutation', idempotent: true, earn: earnSpec,
    fields: { partnerClientId: req(f.partnerClientId), action: req(f.action), param1: opt(f.param1), date: opt(f.date), lang: opt(f.lang) },
    summary: 'Stores an action for a user (created when unknown).' }),
  entry({ path: 'generosity/multistore', data: a.multistore, side: 'back', token: 'backend', effect: 'mutation', idempotent: true,
    fields: { action: req(f.action), partnerClientIds: req(partnerClientIdList), param1: opt(f.param1) },
    summary: 'Stores an action for up to 1,000 users.' }),
  entry({ path: 'user/incrementalinfos', data: a.changedUsers, side: 'back', token: 'backend', effect: 'read',
    fields: { since: req(f.since), page: opt(f.page), limit: opt(f.limit) },
    summary: 'Users changed since a date, with their earns and burns.' }),
  entry({ path: 'user/infos', data: a.profiles, side: 'back', token: 'backend', effect: 'read',
    fields: { partnerClientIds: opt(partnerClientIdList), page: opt(f.page), limit: opt(f.limit) },
    summary: 'Users with their information, paged.' }),
  entry({ path: 'user/info', data: a.profile, side: 'back', token: 'backend', effect: 'read', fields: { partnerClientId: req(f.partnerClientId) },
    summary: "One user's information." }),
  entry({ path: 'user/ranking', data: a.ranking, side: 'back', token: 'backend', effect: 'read',
    fields: { partnerClientId: req(f.partnerClientId), n: req(f.rankingSpan) },
    summary: 'The user and up to n users above and below, by points.' }),
  entry({ path: 'user/multidelete', data: a.deletions, side: 'back', token: 'backend', effect: 'mutation', sessionEffect: 'end-listed-users-sessions', usersField: 'partnerClientIds',
    fields: { partnerClientIds: req(partnerClientIdList) },
    summary: "Deletes up to 1,000 users and ends this service's sessions of them." }),
]);

const byPath = new Map(catalogue.map((e) => [e.path, e]));

export function endpoint(path: string): EndpointSpec {
  const found = byPath.get(path);
  if (!found) throw new Error(`No catalogue entry for ${path}`);
  return found;
}

export function findEndpoint(path: string): EndpointSpec | undefined {
  return byPath.get(path);
}

export const frontEndpoints = catalogue.filter((e) => e.browser);
export const backEndpoints = catalogue.filter((e) => !e.browser && e.exposed);

/**
 * A catalogue in force: the built-in table, or the built-in table with
 * `APM_CATALOGUE_FILE` applied. Routes, validation, cache policy and the
 * OpenAPI documents read the one the service was started with.
 */
export interface Catalogue {
  readonly entries: readonly EndpointSpec[];
  /** Exposed front-end endpoints: the `/api` routes. */
  readonly front: readonly EndpointSpec[];
  /** Exposed back-end endpoints: the `/internal` routes. */
  readonly back: readonly EndpointSpec[];
  find(path: string): EndpointSpec | undefined;
}

export function catalogueOf(entries: readonly EndpointSpec[]): Catalogue {
  const index = new Map(entries.map((e) => [e.path, e]));
  return Object.freeze({
    entries,
    front: entries.filter((e) => e.browser && e.exposed),
    back: entries.filter((e) => !e.browser && e.exposed),
    find: (path: string) => index.get(path),
  });
}

export const builtInCatalogue: Catalogue = catalogueOf(catalogue);
