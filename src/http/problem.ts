import type { ErrorRequestHandler, Response } from 'express';
import { ServiceError, ServiceUnavailable, SessionStoreUnavailable, UpstreamCircuitOpen } from '../errors';
import type { Logger } from '../observability/logger';

/** An RFC 9457 problem document. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly requestId: string;
  readonly code: string;
  readonly [extra: string]: unknown;
}

const TYPE_BASE = 'https://miles-bff.dev/problems/';

export function problemFor(err: ServiceError, requestId: string): Problem {
  return {
    type: `${TYPE_BASE}${err.code.replace(/^ERR_/, '').toLowerCase().replace(/_/g, '-')}`,
    title: err.title,
    status: err.status,
    detail: err.message,
    requestId,
    code: err.code,
    ...(err.extra ?? {}),
  };
}

export function sendProblem(res: Response, err: ServiceError): void {
  const requestId = String(res.locals.requestId ?? '');
  if (err.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(err.retryAfterSeconds));
  res.locals.errorCode = err.code;
  // An error is about this request only; no cache may keep it.
  res.setHeader('Cache-Control', 'no-store');
  res.status(err.status).type('application/problem+json').send(JSON.stringify(problemFor(err, requestId)));
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  expose?: boolean;
}

class InternalError extends ServiceError {
  readonly code = 'ERR_INTERNAL';
  readonly status = 500;
  readonly title = 'Internal error';
}

class BodyError extends ServiceError {
  readonly code: string;
  readonly status: number;
  readonly title: string;
  constructor(status: number, code: string, title: string, message: string, cause: unknown) {
    super(message, { cause });
    this.status = status;
    this.code = code;
    this.title = title;
  }
}

/** Turns body-parser's own errors into our typed errors. */
function fromBodyParser(err: BodyParserError): ServiceError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new BodyError(413, 'ERR_PAYLOAD_TOO_LARGE', 'Payload too large', 'The body exceeds 16 KiB.', err);
    case 'entity.parse.failed':
      return new BodyError(400, 'ERR_BAD_REQUEST', 'Bad request', 'The body is not valid JSON.', err);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new BodyError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'Unsupported media type', 'Only UTF-8 JSON bodies are accepted.', err);
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new BodyError(400, 'ERR_BAD_REQUEST', 'Bad request', 'The body could not be read.', err);
    default:
      // A body its Content-Encoding does not describe (zlib, brotli errors) comes as an untyped client error.
      if (err.expose === true && typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
        return new BodyError(400, 'ERR_BAD_REQUEST', 'Bad request', 'The body could not be decoded.', err);
      }
      return undefined;
  }
}

/** How often a state already logged when it began (a Redis outage, an open circuit, a drain) is recalled. */
const REMINDER_EVERY_MS = 10_000;

/**
 * Errors that each request of an outage meets alike: the outage's own module logs its changes of
 * state (redis-store.ts, the circuit breaker, the drain), each request has its access line, so a
 * warning per request would only repeat them, a thousand times a second under load. One reminder
 * per code every REMINDER_EVERY_MS, with how many it stands for, is enough.
 */
function isOutageState(err: ServiceError): boolean {
  return err instanceof SessionStoreUnavailable || err instanceof UpstreamCircuitOpen || err instanceof ServiceUnavailable;
}

/** The one place where any error becomes an answer. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  const reminders = new Map<string, { at: number; suppressed: number }>();
  const remind = (err: ServiceError, requestId: unknown): void => {
    const now = Date.now();
    const last = reminders.get(err.code);
    if (last && now - last.at < REMINDER_EVERY_MS) {
      last.suppressed += 1;
      return;
    }
    reminders.set(err.code, { at: now, suppressed: 0 });
    logger.warn({ err: { code: err.code, message: err.message, cause: causeSummary(err.cause) }, requestId, suppressed: last?.suppressed ?? 0, everyMs: REMINDER_EVERY_MS }, err.title);
  };
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    let known: ServiceError | undefined;
    if (err instanceof ServiceError) known = err;
    else if (err && typeof err === 'object' && ('type' in err || 'status' in err)) known = fromBodyParser(err as BodyParserError);
    if (!known) {
      logger.error({ err, requestId: res.locals.requestId, path: req.path }, 'unexpected error');
      known = new InternalError('The service failed to handle this request.', { cause: err });
    } else if (known.status >= 500 && isOutageState(known)) {
      remind(known, res.locals.requestId);
    } else if (known.status >= 500) {
      logger.warn({ err: { code: known.code, message: known.message, cause: causeSummary(known.cause) }, requestId: res.locals.requestId }, known.title);
    }
    sendProblem(res, known);
  };
}

function causeSummary(cause: unknown): string | undefined {
  if (!cause) return undefined;
  if (cause instanceof Error) return `${(cause as NodeJS.ErrnoException).code ?? cause.name}: ${cause.message}`;
  return String(cause);
}
