/**
 * Every failure the service can answer with is one of these classes. Each
 * carries a stable `code` (callers branch on type or code, never on message
 * text), the cause it wraps, and its whole classification: the HTTP status
 * and problem type it is answered with, whether the upstream was reached and
 * may have applied the request, what it says of the upstream's health, its
 * call outcome label, and whether it is an outage. Every module reads these
 * fields instead of re-deriving them from the class; the one place that turns
 * an error into an answer is `http/problem.ts`.
 */
export interface Envelope {
  readonly errorCode: number;
  readonly errorMsg: string;
  readonly data?: unknown;
}

/** Base of the problem documents' `type`: the code without `ERR_`, in kebab case, follows it. */
export const PROBLEM_TYPE_BASE = 'https://miles-bff.dev/problems/';

/**
 * What a failed call says about the upstream's health, for the circuit breaker:
 * `failure` counts against it, `success` shows it answering, `neutral` says nothing.
 */
export type UpstreamHealth = 'failure' | 'success' | 'neutral';

/**
 * Whether the request may have been applied upstream: `no` when nothing reached the upstream
 * or it refused before applying anything (a retry may proceed), `unknown` otherwise.
 */
export type Applied = 'no' | 'unknown';

/** The outcome label of an upstream call (metrics `outcome`, traces), for a call that failed. */
export type CallOutcome = 'timeout' | 'unreachable' | 'unreadable' | 'credentials' | 'misread' | 'circuit-open' | 'fault';

export abstract class ServiceError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  /** A short, stable, human title for the problem document. */
  abstract readonly title: string;
  /** Seconds a client should wait before retrying (sets `Retry-After`). */
  get retryAfterSeconds(): number | undefined {
    return undefined;
  }
  /** Extra members of the problem document. */
  get extra(): Readonly<Record<string, unknown>> | undefined {
    return undefined;
  }
  /** The problem document's `type`. */
  get problemType(): string {
    return `${PROBLEM_TYPE_BASE}${this.code.replace(/^ERR_/, '').toLowerCase().replace(/_/g, '-')}`;
  }
  /** Whether any of the request reached the upstream. */
  get upstreamReached(): boolean {
    return false;
  }
  /** Whether the request may have been applied upstream; a refusal of ours (4xx) or an outage applied nothing. */
  get applied(): Applied {
    return this.status < 500 || this.outage ? 'no' : 'unknown';
  }
  /** What this failure says about the upstream's health (circuit breaker). */
  get upstreamHealth(): UpstreamHealth {
    return 'neutral';
  }
  /** The call outcome label when this error ends an upstream call. */
  get callOutcome(): CallOutcome {
    return 'fault';
  }
  /**
   * A state every request meets alike until it ends (503 with `Retry-After`): its own module
   * logs its changes, so the error handler only recalls it now and then.
   */
  get outage(): boolean {
    return false;
  }
  /** The upstream's errorCode, when it gave one. */
  get upstreamErrorCode(): number | undefined {
    return undefined;
  }
  /** The upstream's HTTP status, when it answered one that is not passed on. */
  get upstreamHttpStatus(): number | undefined {
    return undefined;
  }

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

const httpError = (code: string, status: number, title: string) =>
  class extends ServiceError {
    readonly code = code;
    readonly status = status;
    readonly title = title;
    readonly #extra: Record<string, unknown> | undefined;
    constructor(message: string = title, options?: { cause?: unknown; extra?: Record<string, unknown> }) {
      super(message, options);
      this.#extra = options?.extra;
    }
    override get extra(): Record<string, unknown> | undefined {
      return this.#extra;
    }
  };

export class BadRequest extends httpError('ERR_BAD_REQUEST', 400, 'Bad request') {}
export class Unauthenticated extends httpError('ERR_UNAUTHENTICATED', 401, 'Not connected') {}
export class Forbidden extends httpError('ERR_FORBIDDEN', 403, 'Forbidden') {}
export class NotFound extends httpError('ERR_NOT_FOUND', 404, 'Not found') {}
export class MethodNotAllowed extends httpError('ERR_METHOD_NOT_ALLOWED', 405, 'Method not allowed') {}
export class Conflict extends httpError('ERR_CONFLICT', 409, 'Conflict') {}
export class PayloadTooLarge extends httpError('ERR_PAYLOAD_TOO_LARGE', 413, 'Payload too large') {}
export class UnsupportedMediaType extends httpError('ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'Unsupported media type') {}
/** A Secure cookie was asked for over plain HTTP: a deployment fault (TRUST_PROXY, COOKIE_SECURE), not the caller's. */
export class InsecureTransport extends httpError('ERR_INSECURE_TRANSPORT', 500, 'Session cookie cannot be set over plain HTTP') {}
export class UnprocessableEntity extends httpError('ERR_UNPROCESSABLE', 422, 'Unprocessable entity') {}

export class TooManyRequests extends ServiceError {
  readonly code = 'ERR_RATE_LIMITED';
  readonly status = 429;
  readonly title = 'Too many requests';
  constructor(readonly retryAfter: number, message = 'Too many requests, slow down.') {
    super(message);
  }
  override get retryAfterSeconds(): number {
    return this.retryAfter;
  }
}

/** Redis (sessions, locks) did not answer in time; the request may be retried. */
export class SessionStoreUnavailable extends ServiceError {
  readonly code = 'ERR_STORE_UNAVAILABLE';
  readonly status = 503;
  readonly title = 'Session store unavailable';
  override get retryAfterSeconds(): number {
    return 2;
  }
  override get outage(): boolean {
    return true;
  }
}

/** The service is shutting down or not ready. */
export class ServiceUnavailable extends ServiceError {
  readonly code = 'ERR_UNAVAILABLE';
  readonly status = 503;
  readonly title = 'Service unavailable';
  constructor(message: string, readonly retryAfter = 5, options?: { cause?: unknown }) {
    super(message, options);
  }
  override get retryAfterSeconds(): number {
    return this.retryAfter;
  }
  override get outage(): boolean {
    return true;
  }
}

/** The OpenID Provider cannot be used yet: its discovery has not succeeded (it is retried with backoff). */
export class IdentityProviderUnavailable extends ServiceError {
  readonly code = 'ERR_IDENTITY_PROVIDER_UNAVAILABLE';
  readonly status = 503;
  readonly title = 'Identity provider unavailable';
  override get retryAfterSeconds(): number {
    return 5;
  }
  // Every sign-in meets it alike until discovery succeeds, and the relying party logs each
  // failed attempt of its backoff: the error handler only recalls it now and then.
  override get outage(): boolean {
    return true;
  }
}

/**
 * Why a sign-in did not end in a session: the stable text of `/?signin_error=<reason>`. A
 * provider's own error (`access_denied`…) is passed on when it is a plain word.
 */
export type SignInFailure = (typeof SIGN_IN_FAILURES)[number] | (string & {});

/** The reasons of our own, and the provider's most common one: each is a metric label of its own. */
export const SIGN_IN_FAILURES = ['login_expired', 'state_mismatch', 'invalid_response', 'invalid_identity', 'upstream_refused', 'provider_unavailable', 'access_denied'] as const;

/** A sign-in answer that fails its checks; the callback turns it into a redirect with the reason, never a session. */
export class SignInRefused extends ServiceError {
  readonly code = 'ERR_SIGNIN_REFUSED';
  readonly status = 400;
  readonly title = 'Sign-in refused';
  constructor(readonly reason: SignInFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A failure the service did not foresee: a bug, answered 500 and logged with its cause. */
export class InternalError extends ServiceError {
  readonly code = 'ERR_INTERNAL';
  readonly status = 500;
  readonly title = 'Internal error';
}

/** Base of every failure of the upstream call: reached it, and may have been applied, unless a subclass knows better. */
export abstract class UpstreamError extends ServiceError {
  constructor(message: string, readonly endpoint: string, options?: { cause?: unknown }) {
    super(message, options);
  }
  override get upstreamReached(): boolean {
    return true;
  }
  override get applied(): Applied {
    return 'unknown';
  }
}

/** No answer within APM_TIMEOUT_MS. The outcome of a mutation is unknown. */
export class UpstreamTimeout extends UpstreamError {
  readonly code = 'ERR_UPSTREAM_TIMEOUT';
  readonly status = 504;
  readonly title = 'Upstream timeout';
  override get upstreamHealth(): UpstreamHealth {
    return 'failure';
  }
  override get callOutcome(): CallOutcome {
    return 'timeout';
  }
}

/**
 * Transport failures that happen before a single byte of the request left: the connection was
 * never made, or TLS refused it before the request was written.
 */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ERR_INVALID_URL',
  'EPROTO',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const NOT_SENT_PREFIXES = ['ERR_SSL_', 'ERR_TLS_'];

/** The transport's error, or the socket's error beneath it, when it says nothing was sent. */
function notSentCodeOf(cause: unknown): string | undefined {
  for (let depth = 0; depth < 3 && cause; depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && (NOT_SENT_CODES.has(code) || NOT_SENT_PREFIXES.some((p) => code.startsWith(p)))) return code;
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Unreachable, connection reset, or refused before an answer. */
export class UpstreamUnreachable extends UpstreamError {
  readonly code = 'ERR_UPSTREAM_UNREACHABLE';
  readonly status = 502;
  readonly title = 'Upstream unreachable';
  /** Read from the cause once: whether the request left before the connection failed. */
  readonly #reached: boolean;
  constructor(message: string, endpoint: string, options?: { cause?: unknown }) {
    super(message, endpoint, options);
    this.#reached = notSentCodeOf(options?.cause) === undefined;
  }
  override get upstreamReached(): boolean {
    return this.#reached;
  }
  override get applied(): Applied {
    return this.#reached ? 'unknown' : 'no';
  }
  override get upstreamHealth(): UpstreamHealth {
    return 'failure';
  }
  override get callOutcome(): CallOutcome {
    return 'unreachable';
  }
}

/** The upstream answered, with an HTTP status and perhaps an errorCode, in a way that is not an answer to pass on. */
export abstract class UpstreamAnsweredError extends UpstreamError {
  constructor(message: string, endpoint: string, readonly httpStatus: number, readonly errorCode?: number, options?: { cause?: unknown }) {
    super(message, endpoint, options);
  }
  override get upstreamErrorCode(): number | undefined {
    return this.errorCode;
  }
  override get upstreamHttpStatus(): number {
    return this.httpStatus;
  }
  override get extra(): Record<string, unknown> | undefined {
    return this.errorCode === undefined ? undefined : { upstreamErrorCode: this.errorCode };
  }
}

/** HTTP statuses that, without the upstream's envelope, come from in front of it: nothing was applied. */
export const DEFAULT_NOT_APPLIED_STATUSES: ReadonlySet<number> = new Set([503]);

/**
 * The upstream answered 5xx, errorCode 99, or an HTTP status it should not. A status of
 * `notAppliedStatuses` (UPSTREAM_NOT_APPLIED_STATUSES) without the upstream's envelope comes
 * from a proxy in front of it: nothing was applied.
 */
export class UpstreamFault extends UpstreamAnsweredError {
  readonly code = 'ERR_UPSTREAM_FAULT';
  readonly status = 502;
  readonly title = 'Upstream fault';
  readonly #applied: Applied;
  constructor(
    message: string,
    endpoint: string,
    httpStatus: number,
    errorCode?: number,
    options?: { cause?: unknown; notAppliedStatuses?: ReadonlySet<number> },
  ) {
    super(message, endpoint, httpStatus, errorCode, options);
    const inFront = errorCode === undefined && (options?.notAppliedStatuses ?? DEFAULT_NOT_APPLIED_STATUSES).has(httpStatus);
    this.#applied = inFront ? 'no' : 'unknown';
  }
  override get applied(): Applied {
    return this.#applied;
  }
  override get upstreamHealth(): UpstreamHealth {
    return 'failure';
  }
}

/**
 * The upstream answered, but not as this service reads its answers: an
 * envelope with errorCode 0 under a non-2xx status, or a 404 (a path the
 * upstream does not know: the catalogue and the real API disagree). A fault
 * of the service's reading, never of the caller. The upstream answered at
 * once: it is up, and the circuit would hide a precise 502 behind a vague 503.
 */
export class UpstreamMisread extends UpstreamAnsweredError {
  readonly code = 'ERR_UPSTREAM_MISREAD';
  readonly status = 502;
  readonly title = 'Upstream answer not understood';
  override get upstreamHealth(): UpstreamHealth {
    return 'success';
  }
  override get callOutcome(): CallOutcome {
    return 'misread';
  }
}

/** The answer is not a JSON envelope. */
export class UpstreamUnreadable extends UpstreamError {
  readonly code = 'ERR_UPSTREAM_UNREADABLE';
  readonly status = 502;
  readonly title = 'Unreadable upstream answer';
  override get upstreamHealth(): UpstreamHealth {
    return 'failure';
  }
  override get callOutcome(): CallOutcome {
    return 'unreadable';
  }
}

/**
 * The upstream refused our own credentials or signature (errorCode 1, 8, 9,
 * 10): a fault of this service or its settings, never of the user. Refused
 * before anything was applied; the upstream answered at once, so it counts
 * as up (opening the circuit would also block the back-end token renewal
 * that errorCode 10 calls for).
 */
export class UpstreamAuthFailure extends UpstreamError {
  readonly code = 'ERR_UPSTREAM_AUTH';
  readonly status = 502;
  readonly title = 'Upstream refused the partner credentials';
  constructor(message: string, endpoint: string, readonly errorCode: number, options?: { cause?: unknown }) {
    super(message, endpoint, options);
  }
  override get upstreamErrorCode(): number {
    return this.errorCode;
  }
  override get extra(): Record<string, unknown> {
    return { upstreamErrorCode: this.errorCode };
  }
  override get applied(): Applied {
    return 'no';
  }
  override get upstreamHealth(): UpstreamHealth {
    return 'success';
  }
  override get callOutcome(): CallOutcome {
    return 'credentials';
  }
}

/** The circuit to the upstream is open after repeated failures: nothing was sent. */
export class UpstreamCircuitOpen extends UpstreamError {
  readonly code = 'ERR_UPSTREAM_CIRCUIT_OPEN';
  readonly status = 503;
  readonly title = 'Upstream temporarily unavailable';
  constructor(message: string, endpoint: string, readonly retryAfter: number) {
    super(message, endpoint);
  }
  override get retryAfterSeconds(): number {
    return this.retryAfter;
  }
  override get upstreamReached(): boolean {
    return false;
  }
  override get applied(): Applied {
    return 'no';
  }
  override get outage(): boolean {
    return true;
  }
  override get callOutcome(): CallOutcome {
    return 'circuit-open';
  }
}
