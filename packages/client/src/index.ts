/**
 * A typed browser and mobile client for miles-bff's `/api`: one method per
 * front-end endpoint, no dependencies, only `fetch`. Published as
 * `@miles-bff/client` (ES module and CommonJS builds with their types); the
 * service also serves its ES module build at `/client/index.js` for the demo
 * page.
 *
 * ```js
 * import { createMilesClient, MilesBusinessError } from '@miles-bff/client';
 * const miles = createMilesClient();
 * await miles.connect({ partnerClientId: 'demo-1' });
 * try {
 *   const { data } = await miles.buyGift('coffee', { idempotencyKey: true });
 *   console.log(`New balance: ${data.points}`);
 * } catch (err) {
 *   if (err instanceof MilesBusinessError && err.errorCode === 4) console.log('Not enough points');
 *   else throw err;
 * }
 * ```
 *
 * It must stay free of server code (zod, express): the endpoint table below
 * mirrors the catalogue's front-end paths, and the `data` types of types.ts
 * mirror the catalogue's answer schemas; tests hold both equal.
 */
import type {
  AdKind,
  AdsData,
  BuyGiftData,
  ConnectParams,
  EmptyData,
  GiftListData,
  HistoryBurnsData,
  HistoryEarnsData,
  InitialCheckStoreData,
  LangParams,
  MilesConnectOk,
  MilesEndpointName,
  MilesEndpointTypes,
  MilesOk,
  MilesProblem,
  PageParams,
  ProgramData,
  SessionInfo,
  SessionToken,
  StoreData,
} from './types.js';

export type * from './types.js';

interface EndpointEntry {
  /** Path under `/api/`, as in the upstream catalogue. */
  readonly path: string;
  /** A read the service also answers on `GET` (with query parameters). */
  readonly get: boolean;
  /** Accepts an `Idempotency-Key`. */
  readonly idempotent: boolean;
  /** Needs a connected session. */
  readonly session: boolean;
}

/**
 * How the service in front of you serves its `/api` endpoints, as its
 * `GET /api/endpoints.json` answers: the built-in catalogue with the
 * deployment's `APM_CATALOGUE_FILE` applied (endpoints added, taken off, GET
 * allowed or not). Load it with `fetchMilesEndpoints` or `loadMilesClient`.
 */
export interface MilesEndpointTable {
  readonly endpoints: readonly MilesServedEndpoint[];
  /**
   * Present when the service runs the OpenID Connect sign-in itself (`IDENTITY_MODE=oidc`): the
   * paths under `/api/` of its sign-in and sign-out navigations (`signIn()`, `signOut()`).
   */
  readonly signIn?: { readonly login: string; readonly logout: string };
}

export interface MilesServedEndpoint {
  /** Path under `/api/`. */
  readonly path: string;
  /** Also answered on `GET` with query parameters. */
  readonly get: boolean;
  /** Accepts an `Idempotency-Key`. */
  readonly idempotent: boolean;
  /** Needs a connected session. */
  readonly session: boolean;
}

/** Every front-end endpoint of the built-in catalogue, by the client's name for it. */
export const MILES_ENDPOINTS = Object.freeze({
  getProgram: { path: 'partner/getprog', get: true, idempotent: false, session: false },
  initialCheckStore: { path: 'partner/initialcheckstore', get: true, idempotent: false, session: true },
  connect: { path: 'user/clientcheckcredentials', get: false, idempotent: false, session: false },
  historyBurns: { path: 'user/historyburns', get: true, idempotent: false, session: true },
  historyEarns: { path: 'user/historyearns', get: true, idempotent: false, session: true },
  logout: { path: 'user/logout', get: false, idempotent: false, session: true },
  deleteUser: { path: 'user/delete', get: false, idempotent: false, session: true },
  store: { path: 'generosity/store', get: false, idempotent: true, session: true },
  giftList: { path: 'gift/list', get: true, idempotent: false, session: true },
  buyGift: { path: 'gift/checkavailability', get: false, idempotent: true, session: true },
  adBonus: { path: 'ad/bonus', get: true, idempotent: false, session: true },
  adSpecials: { path: 'ad/specials', get: true, idempotent: false, session: true },
  adNews: { path: 'ad/news', get: true, idempotent: false, session: true },
} as const satisfies { readonly [K in MilesEndpointName]: EndpointEntry });

const AD_ENDPOINTS = { bonus: 'adBonus', specials: 'adSpecials', news: 'adNews' } as const satisfies Record<AdKind, MilesEndpointName>;

// Errors: callers branch on the class (or its stable `code`), never on message text.

export type MilesErrorCode = 'MILES_BUSINESS' | 'MILES_NOT_CONNECTED' | 'MILES_PROBLEM' | 'MILES_NETWORK';

interface ErrorContext {
  /** The `/api` path called, e.g. `gift/checkavailability` or `session`. */
  readonly endpoint: string;
  readonly status: number;
  readonly requestId: string | undefined;
  readonly idempotencyKey: string | undefined;
}

/** Base of every error the client throws. */
export abstract class MilesApiError extends Error {
  abstract readonly code: MilesErrorCode;
  readonly endpoint: string;
  /** HTTP status; 0 when no answer arrived. */
  readonly status: number;
  readonly requestId: string | undefined;
  /** The `Idempotency-Key` sent: retry with the same one to avoid doing it twice. */
  readonly idempotencyKey: string | undefined;

  constructor(message: string, context: ErrorContext, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.endpoint = context.endpoint;
    this.status = context.status;
    this.requestId = context.requestId;
    this.idempotencyKey = context.idempotencyKey;
  }
}

/** The upstream refused on business grounds (errorCode 2, 4, 5, 6, 7, 11...): the envelope is in the error. */
export class MilesBusinessError extends MilesApiError {
  readonly code = 'MILES_BUSINESS' as const;
  readonly errorCode: number;
  readonly errorMsg: string;
  readonly data: unknown;

  constructor(envelope: { errorCode: number; errorMsg: string; data?: unknown }, context: ErrorContext) {
    super(`${context.endpoint}: refused with errorCode ${envelope.errorCode} (${envelope.errorMsg})`, context);
    this.errorCode = envelope.errorCode;
    this.errorMsg = envelope.errorMsg;
    this.data = envelope.data;
  }
}

/** 401: no connected session, or it has ended (logout elsewhere, expiry, upstream errorCode 3). Connect again. */
export class MilesNotConnectedError extends MilesApiError {
  readonly code = 'MILES_NOT_CONNECTED' as const;
  /** The upstream's errorCode 3 when the upstream ended the session. */
  readonly errorCode: number | undefined;
  /** The problem document, when the service sent one. */
  readonly problem: MilesProblem | undefined;

  constructor(problem: MilesProblem | undefined, errorCode: number | undefined, context: ErrorContext) {
    super(`${context.endpoint}: not connected${problem?.detail ? ` (${problem.detail})` : ''}`, context);
    this.problem = problem;
    this.errorCode = errorCode;
  }
}

/** Any other failure the service answered with `application/problem+json` (403, 400, 409, 429, 502, 503...). */
export class MilesProblemError extends MilesApiError {
  readonly code = 'MILES_PROBLEM' as const;
  readonly type: string;
  readonly title: string;
  readonly detail: string | undefined;
  /** The service's stable error code, e.g. `ERR_FORBIDDEN`. */
  readonly problemCode: string | undefined;
  readonly upstreamErrorCode: number | undefined;
  /** Seconds to wait before retrying (`Retry-After`), when given. */
  readonly retryAfter: number | undefined;
  /** The whole problem document. */
  readonly problem: MilesProblem;

  constructor(problem: MilesProblem, retryAfter: number | undefined, context: ErrorContext) {
    super(`${context.endpoint}: ${problem.title} (${problem.status})${problem.detail ? `: ${problem.detail}` : ''}`, context);
    this.problem = problem;
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
    this.problemCode = problem.code;
    this.upstreamErrorCode = problem.upstreamErrorCode;
    this.retryAfter = retryAfter;
  }
}

/** No answer: the network failed, CORS refused it, or the call was aborted. A mutation's outcome is unknown. */
export class MilesNetworkError extends MilesApiError {
  readonly code = 'MILES_NETWORK' as const;
  /** Aborted through the caller's `signal`. */
  readonly aborted: boolean;

  constructor(cause: unknown, aborted: boolean, context: ErrorContext) {
    super(`${context.endpoint}: ${aborted ? 'aborted' : 'no answer from the service'}`, context, { cause });
    this.aborted = aborted;
  }
}

// The client.

export type SessionTransport = 'cookie' | 'token';
type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface MilesClientOptions {
  /** Where the service is; `''` (the default) is the page's own origin. */
  readonly baseUrl?: string;
  /** A `fetch` of your own (tests, instrumentation); the global one by default. */
  readonly fetch?: FetchLike;
  /**
   * `cookie` (browsers, default): an HttpOnly session cookie the page never sees.
   * `token` (apps, node): connect returns a session token, sent as `Authorization: Bearer`.
   */
  readonly transport?: SessionTransport;
  /** With the token transport: a session token kept from an earlier connect. */
  readonly token?: string;
  /** Called when the token transport's token changes (connect, logout, session ended), to persist it. */
  readonly onTokenChange?: (token: string | undefined) => void;
  /**
   * The service's own endpoint table (`fetchMilesEndpoints`). With it, calls follow the deployment:
   * an endpoint it does not serve is refused before any request, GET and `Idempotency-Key` are used
   * as it says, and `request` reaches the endpoints its catalogue file added. Without it, the
   * built-in table (`MILES_ENDPOINTS`) applies.
   */
  readonly endpoints?: MilesEndpointTable;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
}

export interface IdempotentOptions extends CallOptions {
  /** An `Idempotency-Key`: your own (reuse it to retry safely), or `true` for a fresh random one. */
  readonly idempotencyKey?: string | true;
}

export interface ConnectOptions extends CallOptions {
  /** The identity provider's ID token, for the service's `jwt` identity mode. */
  readonly idToken?: string;
}

export type MilesResult<T> = MilesOk<T>;

export interface MilesClient {
  /** The program, its actions and gifts; no session needed. */
  getProgram(params?: LangParams, options?: CallOptions): Promise<MilesOk<ProgramData>>;
  /** The program plus the connected user's balance. */
  initialCheckStore(params?: LangParams, options?: CallOptions): Promise<MilesOk<InitialCheckStoreData>>;
  /** Connects the user and opens a session (cookie or token). */
  connect(params?: ConnectParams, options?: ConnectOptions): Promise<MilesConnectOk>;
  historyBurns(params?: PageParams, options?: CallOptions): Promise<MilesOk<HistoryBurnsData>>;
  historyEarns(params?: PageParams, options?: CallOptions): Promise<MilesOk<HistoryEarnsData>>;
  /** Disconnects the user on every device. */
  logout(options?: CallOptions): Promise<MilesOk<EmptyData>>;
  /** Deletes the user and their history. */
  deleteUser(options?: CallOptions): Promise<MilesOk<EmptyData>>;
  /** Stores an action, earning its points. */
  store(action: string, options?: IdempotentOptions & { readonly param1?: string; readonly lang?: string }): Promise<MilesOk<StoreData>>;
  giftList(params?: LangParams, options?: CallOptions): Promise<MilesOk<GiftListData>>;
  /** Buys a gift (`gift/checkavailability`). */
  buyGift(giftId: string, options?: IdempotentOptions): Promise<MilesOk<BuyGiftData>>;
  ads(kind: AdKind, lang?: string, options?: CallOptions): Promise<MilesOk<AdsData>>;
  /** Whether a session is connected, and whose. */
  session(options?: CallOptions): Promise<MilesOk<SessionInfo>>;
  /**
   * Any `/api` endpoint by path, including those a deployment's catalogue file added (see
   * `MilesClientOptions.endpoints`); the answer's `data` is untyped.
   */
  request(path: string, params?: Record<string, unknown>, options?: IdempotentOptions): Promise<MilesOk<unknown>>;
  /** Any endpoint of the table by name: what every method above is built on. */
  call<N extends MilesEndpointName>(
    name: N,
    params: MilesEndpointTypes[N]['params'],
    options?: IdempotentOptions & ConnectOptions,
  ): Promise<MilesOk<MilesEndpointTypes[N]['data']>>;
  /**
   * `IDENTITY_MODE=oidc`: the URL that signs the user in at the identity provider and comes back
   * to `returnTo` (a path of this site; the current one by default in a browser).
   */
  signInUrl(returnTo?: string): string;
  /** `IDENTITY_MODE=oidc`: the URL that ends the session here and at the identity provider. */
  signOutUrl(): string;
  /** Browsers, `IDENTITY_MODE=oidc`: leaves the page for the identity provider's sign-in (`signInUrl`). */
  signIn(returnTo?: string): void;
  /** Browsers, `IDENTITY_MODE=oidc`: leaves the page to sign out here and at the identity provider (`signOutUrl`). */
  signOut(): void;
  /** The token transport's current session token. */
  readonly token: string | undefined;
  readonly transport: SessionTransport;
}

/** A fresh random `Idempotency-Key`. */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

const JSON_CONTENT_TYPE = 'application/json';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEnvelope(value: unknown): value is { errorCode: number; errorMsg: string; data?: unknown; session?: SessionToken } {
  return isRecord(value) && typeof value.errorCode === 'number' && typeof value.errorMsg === 'string';
}

function isProblem(value: unknown): value is MilesProblem {
  return isRecord(value) && typeof value.title === 'string' && typeof value.status === 'number';
}

function retryAfterOf(headers: Headers): number | undefined {
  const value = headers.get('Retry-After');
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

function queryOf(params: Record<string, unknown>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) query.append(key, String(value));
  const text = query.toString();
  return text ? `?${text}` : '';
}

/** Leaves out absent fields: the upstream wants them missing, never `null` or `undefined`. */
function defined(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) if (value !== undefined) out[key] = value;
  return out;
}

function baseOf(baseUrl: string | undefined): string {
  return `${(baseUrl ?? '').replace(/\/+$/, '')}/api/`;
}

function fetchOf(options: { readonly fetch?: FetchLike }): FetchLike {
  const fetchImpl = options.fetch ?? (typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : undefined);
  if (!fetchImpl) throw new TypeError('createMilesClient: no fetch available; pass options.fetch.');
  return fetchImpl;
}

function isEndpointTable(value: unknown): value is MilesEndpointTable {
  return (
    isRecord(value) &&
    Array.isArray(value.endpoints) &&
    value.endpoints.every((e) => isRecord(e) && typeof e.path === 'string' && typeof e.get === 'boolean' && typeof e.idempotent === 'boolean' && typeof e.session === 'boolean')
  );
}

/** The service's endpoint table, from its `GET /api/endpoints.json`. */
export async function fetchMilesEndpoints(options: Pick<MilesClientOptions, 'baseUrl' | 'fetch'> & CallOptions = {}): Promise<MilesEndpointTable> {
  const url = `${baseOf(options.baseUrl)}endpoints.json`;
  const context = { endpoint: 'endpoints.json', requestId: undefined, idempotencyKey: undefined };
  let res: Response;
  let json: unknown;
  try {
    res = await fetchOf(options)(url, { method: 'GET', headers: { Accept: JSON_CONTENT_TYPE }, credentials: 'omit', ...(options.signal ? { signal: options.signal } : {}) });
    json = await res.json().catch(() => undefined);
  } catch (cause) {
    throw new MilesNetworkError(cause, options.signal?.aborted === true, { ...context, status: 0 });
  }
  if (!res.ok || !isEndpointTable(json)) {
    const problem = isProblem(json) ? json : { type: 'about:blank', title: res.statusText || `HTTP ${res.status}`, status: res.status, detail: 'The answer is not an endpoint table.' };
    throw new MilesProblemError(problem, retryAfterOf(res.headers), { ...context, status: res.status, requestId: res.headers.get('X-Request-Id') ?? undefined });
  }
  return json;
}

/** The page's own path, query and fragment, where a browser runs the client. */
function currentPath(): string | undefined {
  const loc = (globalThis as { location?: { pathname: string; search: string; hash: string } }).location;
  return loc ? `${loc.pathname}${loc.search}${loc.hash}` : undefined;
}

/** Leaves the page for `url`: a navigation, so the sign-in's redirects and cookies are the browser's own. */
function navigate(url: string): void {
  const loc = (globalThis as { location?: { assign(url: string): void } }).location;
  if (!loc) throw new TypeError('signIn() and signOut() navigate a browser page; elsewhere, open signInUrl() / signOutUrl() in the system browser.');
  loc.assign(url);
}

/** A client that follows the service's own endpoint table, fetched first. */
export async function loadMilesClient(options: MilesClientOptions = {}): Promise<MilesClient> {
  const endpoints = options.endpoints ?? (await fetchMilesEndpoints(options));
  return createMilesClient({ ...options, endpoints });
}

export function createMilesClient(options: MilesClientOptions = {}): MilesClient {
  const base = baseOf(options.baseUrl);
  const transport: SessionTransport = options.transport ?? 'cookie';
  const doFetch: FetchLike = fetchOf(options);
  // Where each path is served and how: the service's own table when given, else the built-in one.
  const served = new Map<string, EndpointEntry>(
    options.endpoints
      ? options.endpoints.endpoints.map((e) => [e.path, { path: e.path, get: e.get, idempotent: e.idempotent, session: e.session }])
      : Object.values(MILES_ENDPOINTS).map((e) => [e.path, e]),
  );
  function servedEntry(path: string): EndpointEntry {
    const entry = served.get(path);
    if (!entry) throw new TypeError(`${path} is not served by this service (it is not in its endpoint table).`);
    return entry;
  }
  let token = transport === 'token' ? options.token : undefined;
  const signInPaths = options.endpoints?.signIn ?? { login: 'auth/login', logout: 'auth/logout' };
  function signInUrl(returnTo?: string): string {
    const target = returnTo ?? currentPath();
    return `${base}${signInPaths.login}${target ? `?returnTo=${encodeURIComponent(target)}` : ''}`;
  }
  function signOutUrl(): string {
    return `${base}${signInPaths.logout}`;
  }

  function setToken(next: string | undefined): void {
    if (next === token) return;
    token = next;
    options.onTokenChange?.(next);
  }

  interface Send {
    readonly endpoint: string;
    readonly method: 'GET' | 'POST';
    readonly params: Record<string, unknown>;
    readonly headers?: Record<string, string>;
    readonly idempotencyKey?: string;
    readonly signal?: AbortSignal;
    /** Connect sends its own credential (or none), never the session token. */
    readonly noSessionToken?: boolean;
  }

  /** One call: the request, then the answer turned into a typed result or a typed error. */
  async function send(req: Send): Promise<{ body: Record<string, unknown>; status: number; requestId: string | undefined }> {
    const headers: Record<string, string> = { Accept: `${JSON_CONTENT_TYPE}, application/problem+json`, ...req.headers };
    const params = defined(req.params);
    let url = `${base}${req.endpoint}`;
    let body: string | undefined;
    if (req.method === 'GET') {
      url += queryOf(params);
    } else {
      headers['Content-Type'] = JSON_CONTENT_TYPE;
      // The service refuses a cookie-carried mutation without it (CSRF): no cross-site form can add a header.
      headers['X-CSRF'] = '1';
      body = JSON.stringify(params);
    }
    if (req.idempotencyKey !== undefined) headers['Idempotency-Key'] = req.idempotencyKey;
    if (transport === 'token' && token !== undefined && !req.noSessionToken) headers.Authorization = `Bearer ${token}`;

    const context = (status: number, requestId: string | undefined): ErrorContext => ({
      endpoint: req.endpoint,
      status,
      requestId,
      idempotencyKey: req.idempotencyKey,
    });

    let res: Response;
    let text: string;
    try {
      res = await doFetch(url, {
        method: req.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        // The cookie transport needs the cookie, also when the page is on another allowed origin.
        credentials: transport === 'cookie' ? 'include' : 'omit',
        ...(req.signal ? { signal: req.signal } : {}),
      });
      text = await res.text();
    } catch (cause) {
      throw new MilesNetworkError(cause, req.signal?.aborted === true, context(0, undefined));
    }
    const status = res.status;
    const requestId = res.headers.get('X-Request-Id') ?? undefined;
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const isProblemType = /^application\/problem\+json/i.test(res.headers.get('Content-Type') ?? '');

    if (status === 401) {
      // The session is over whatever the body says: forget a token that no longer opens anything.
      if (transport === 'token' && !req.noSessionToken) setToken(undefined);
      const problem = isProblemType && isProblem(json) ? json : undefined;
      const errorCode = isEnvelope(json) ? json.errorCode : typeof problem?.upstreamErrorCode === 'number' ? problem.upstreamErrorCode : undefined;
      throw new MilesNotConnectedError(problem, errorCode, context(status, requestId));
    }
    if (isProblemType && isProblem(json)) {
      throw new MilesProblemError(json, retryAfterOf(res.headers), context(status, requestId));
    }
    if (isEnvelope(json)) {
      if (json.errorCode !== 0) throw new MilesBusinessError(json, context(status, requestId));
      if (res.ok) return { body: json, status, requestId };
    } else if (res.ok && isRecord(json) && req.endpoint === 'session') {
      return { body: json, status, requestId };
    }
    const detail = json === undefined ? 'The answer was not JSON.' : 'The answer was neither an envelope nor a problem document.';
    throw new MilesProblemError({ type: 'about:blank', title: res.statusText || `HTTP ${status}`, status, detail }, retryAfterOf(res.headers), context(status, requestId));
  }

  /** The Idempotency-Key to send: the caller's, a new one for `true`, none when not asked; refused where the service takes none. */
  function idempotencyKeyFor(entry: EndpointEntry, callOptions: IdempotentOptions): string | undefined {
    if (callOptions.idempotencyKey === undefined) return undefined;
    if (!entry.idempotent) throw new TypeError(`${entry.path} takes no Idempotency-Key.`);
    return callOptions.idempotencyKey === true ? newIdempotencyKey() : callOptions.idempotencyKey;
  }

  async function call<N extends MilesEndpointName>(
    name: N,
    params: MilesEndpointTypes[N]['params'],
    callOptions: IdempotentOptions & ConnectOptions = {},
  ): Promise<MilesOk<MilesEndpointTypes[N]['data']>> {
    const entry = servedEntry(MILES_ENDPOINTS[name].path);
    const isConnect = name === 'connect';
    const headers: Record<string, string> = {};
    if (isConnect && transport === 'token') headers['X-Session-Transport'] = 'token';
    if (isConnect && callOptions.idToken !== undefined) headers.Authorization = `Bearer ${callOptions.idToken}`;
    const idempotencyKey = idempotencyKeyFor(entry, callOptions);
    const answer = await send({
      endpoint: entry.path,
      method: entry.get ? 'GET' : 'POST',
      params: params as Record<string, unknown>,
      headers,
      ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
      ...(callOptions.signal ? { signal: callOptions.signal } : {}),
      noSessionToken: isConnect,
    });
    const envelope = answer.body as { errorMsg: string; data?: unknown; session?: SessionToken };
    if (isConnect && transport === 'token') {
      if (!envelope.session || typeof envelope.session.token !== 'string') {
        throw new MilesProblemError(
          { type: 'about:blank', title: 'No session token', status: answer.status, detail: 'The connect answer holds no session token.' },
          undefined,
          { endpoint: entry.path, status: answer.status, requestId: answer.requestId, idempotencyKey: undefined },
        );
      }
      setToken(envelope.session.token);
    }
    if (name === 'logout' || name === 'deleteUser') setToken(undefined);
    return {
      ok: true,
      data: (envelope.data ?? {}) as MilesEndpointTypes[N]['data'],
      errorMsg: envelope.errorMsg,
      status: answer.status,
      requestId: answer.requestId,
      ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
      ...(isConnect && envelope.session ? { session: envelope.session } : {}),
    };
  }

  async function request(path: string, params: Record<string, unknown> = {}, callOptions: IdempotentOptions = {}): Promise<MilesOk<unknown>> {
    const named = (Object.keys(MILES_ENDPOINTS) as MilesEndpointName[]).find((n) => MILES_ENDPOINTS[n].path === path);
    // The typed paths keep their own handling (connect's transport, logout forgetting the token).
    if (named) return call(named, params as never, callOptions);
    const entry = servedEntry(path);
    const idempotencyKey = idempotencyKeyFor(entry, callOptions);
    const answer = await send({
      endpoint: entry.path,
      method: entry.get ? 'GET' : 'POST',
      params,
      ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
      ...(callOptions.signal ? { signal: callOptions.signal } : {}),
    });
    const envelope = answer.body as { errorMsg: string; data?: unknown };
    return { ok: true, data: envelope.data ?? {}, errorMsg: envelope.errorMsg, status: answer.status, requestId: answer.requestId, ...(idempotencyKey !== undefined ? { idempotencyKey } : {}) };
  }

  return {
    call,
    request,
    get token() {
      return token;
    },
    transport,
    getProgram: (params = {}, o) => call('getProgram', params, o),
    initialCheckStore: (params = {}, o) => call('initialCheckStore', params, o),
    connect: (params = {}, o) => call('connect', params, o) as Promise<MilesConnectOk>,
    historyBurns: (params = {}, o) => call('historyBurns', params, o),
    historyEarns: (params = {}, o) => call('historyEarns', params, o),
    logout: (o) => call('logout', {}, o),
    deleteUser: (o) => call('deleteUser', {}, o),
    store: (action, o = {}) => call('store', { action, param1: o.param1, lang: o.lang }, o),
    giftList: (params = {}, o) => call('giftList', params, o),
    buyGift: (giftId, o) => call('buyGift', { giftId }, o),
    ads: (kind, lang, o) => {
      const name = AD_ENDPOINTS[kind];
      if (!name) return Promise.reject(new TypeError(`Unknown ad kind: ${String(kind)}`));
      return call(name, { lang }, o);
    },
    signInUrl,
    signOutUrl,
    signIn: (returnTo) => navigate(signInUrl(returnTo)),
    signOut: () => navigate(signOutUrl()),
    async session(o = {}) {
      const answer = await send({ endpoint: 'session', method: 'GET', params: {}, ...(o.signal ? { signal: o.signal } : {}) });
      return { ok: true, data: answer.body as unknown as SessionInfo, errorMsg: '', status: answer.status, requestId: answer.requestId };
    },
  };
}
