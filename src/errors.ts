/**
 * Every failure the service can answer with is one of these classes. Each
 * carries a stable `code` (callers branch on type or code, never on message
 * text), the HTTP status it maps to, and the cause it wraps. The one place
 * that turns them into answers is `http/problem.ts`.
 */
export interface Envelope {
  readonly errorCode: number;
  readonly errorMsg: string;
  readonly data?: unknown;
}

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
}

/** The OpenID Provider cannot be used yet: its discovery has not succeeded (it is retried with backoff). */
export class IdentityProviderUnavailable extends ServiceError {
  readonly code = 'ERR_IDENTITY_PROVIDER_UNAVAILABLE';
  readonly status = 503;
  readonly title = 'Identity provider unavailable';
  override get retryAfterSeconds(): number {
    return 5;
  }
}

/**
 * Why a sign-in did not end in a session: the stable text of `/?signin_error=<reason>`. A
 * provider's own error (`access_denied`…) is passed on when it is a plain word.
 */
export type SignInFailure = 'login_expired' | 'state_mismatch' | 'invalid_response' | 'invalid_identity' | 'upstream_refused' | 'provider_unavailable' | (string & {});

/** A sign-in answer that fails its checks; the callback turns it into a redirect with the reason, never a session. */
export class SignInRefused extends ServiceError {
  readonly code = 'ERR_SIGNIN_REFUSED';
  readonly status = 400;
  readonly title = 'Sign-in refused';
  constructor(readonly reason: SignInFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Base of every failure of the upstream call. */
export abstract class UpstreamError extends ServiceError {
  constructor(message: string, readonly endpoint: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** No answer within APM_TIMEOUT_MS. The outcome of a mutation is unknown. */
export class UpstreamTimeout extends UpstreamError {
  readonly code = 'ERR_UPSTREAM_TIMEOUT';
  readonly status = 504;
  readonly title = 'Upstream timeout';
}

/** Unreachable, connection reset, or refused before an answer. */
export class UpstreamUnreachable extends UpstreamError {
  readonly code = 'ERR_UPSTREAM_UNREACHABLE';
  readonly status = 502;
  readonly title = 'Upstream unreachable';
}

/** The upstream answered, with an HTTP status and perhaps an errorCode, in a way that is not an answer to pass on. */
export abstract class UpstreamAnsweredError extends UpstreamError {
  constructor(message: string, endpoint: string, readonly httpStatus: number, readonly upstreamErrorCode?: number, options?: { cause?: unknown }) {
    super(message, endpoint, options);
  }
  override get extra(): Record<string, unknown> | undefined {
    return this.upstreamErrorCode === undefined ? undefined : { upstreamErrorCode: this.upstreamErrorCode };
  }
}

/** The upstream answered 5xx, errorCode 99, or an HTTP status it should not. */
export class UpstreamFault extends UpstreamAnsweredError {
  readonly code = 'ERR_UPSTREAM_FAULT';
  readonly status = 502;
  readonly title = 'Upstream fault';
}

/**
 * The upstream answered, but not as this service reads its answers: an
 * envelope with errorCode 0 under a non-2xx status, or a 404 (a path the
 * upstream does not know: the catalogue and the real API disagree). A fault
 * of the service's reading, never of the caller.
 */
export class UpstreamMisread extends UpstreamAnsweredError {
  readonly code = 'ERR_UPSTREAM_MISREAD';
  readonly status = 502;
  readonly title = 'Upstream answer not understood';
}

/** The answer is not a JSON envelope. */
export class UpstreamUnreadable extends UpstreamError {
  readonly code = 'ERR_UPSTREAM_UNREADABLE';
  readonly status = 502;
  readonly title = 'Unreadable upstream answer';
}

/**
 * The upstream refused our own credentials or signature (errorCode 1, 8, 9,
 * 10): a fault of this service or its settings, never of the user.
 */
export class UpstreamAuthFailure extends UpstreamError {
  readonly code = 'ERR_UPSTREAM_AUTH';
  readonly status = 502;
  readonly title = 'Upstream refused the partner credentials';
  constructor(message: string, endpoint: string, readonly upstreamErrorCode: number, options?: { cause?: unknown }) {
    super(message, endpoint, options);
  }
  override get extra(): Record<string, unknown> {
    return { upstreamErrorCode: this.upstreamErrorCode };
  }
}

/** The circuit to the upstream is open after repeated failures. */
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
}
