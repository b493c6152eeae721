import type { ErrorRequestHandler, Response } from 'express';
import { BadRequest, InternalError, PayloadTooLarge, ServiceError, UnsupportedMediaType } from '../errors';
import type { Logger } from '../observability/logger';
import { requestContextOf } from './request-context';

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

export function problemFor(err: ServiceError, requestId: string): Problem {
  return {
    type: err.problemType,
    title: err.title,
    status: err.status,
    detail: err.message,
    requestId,
    code: err.code,
    ...(err.extra ?? {}),
  };
}

export function sendProblem(res: Response, err: ServiceError): void {
  const context = requestContextOf(res);
  if (err.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(err.retryAfterSeconds));
  context.problemCode = err.code;
  // An error is about this request only; no cache may keep it.
  res.setHeader('Cache-Control', 'no-store');
  res.status(err.status).type('application/problem+json').send(JSON.stringify(problemFor(err, context.requestId)));
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  expose?: boolean;
}

/** Turns body-parser's own errors into our typed errors. */
function fromBodyParser(err: BodyParserError): ServiceError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new PayloadTooLarge('The body exceeds 16 KiB.', { cause: err });
    case 'entity.parse.failed':
      return new BadRequest('The body is not valid JSON.', { cause: err });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaType('The body\'s charset is not one JSON may be sent in: send UTF-8.', { cause: err });
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new BadRequest('The body could not be read.', { cause: err });
    default:
      // A body its Content-Encoding does not describe (zlib, brotli errors) comes as an untyped client error.
      if (err.expose === true && typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
        return new BadRequest('The body could not be decoded.', { cause: err });
      }
      return undefined;
  }
}

/** How often a state already logged when it began (a Redis outage, an open circuit, a drain) is recalled. */
const REMINDER_EVERY_MS = 10_000;

/**
 * The one place where any error becomes an answer. An outage (the error's `outage`) is met by
 * each request alike: its own module logs its changes of state (redis-store.ts, the circuit
 * breaker, the drain), each request has its access line, so a warning per request would only
 * repeat them, a thousand times a second under load. One reminder per code every
 * REMINDER_EVERY_MS, with how many it stands for, is enough.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  const reminders = new Map<string, { at: number; suppressed: number }>();
  const remind = (err: ServiceError, requestId: string): void => {
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
    const { requestId } = requestContextOf(res);
    let known: ServiceError | undefined;
    if (err instanceof ServiceError) known = err;
    else if (err && typeof err === 'object' && ('type' in err || 'status' in err)) known = fromBodyParser(err as BodyParserError);
    if (!known) {
      logger.error({ err, requestId, path: req.path }, 'unexpected error');
      known = new InternalError('The service failed to handle this request.', { cause: err });
    } else if (known.outage) {
      remind(known, requestId);
    } else if (known.status >= 500) {
      logger.warn({ err: { code: known.code, message: known.message, cause: causeSummary(known.cause) }, requestId }, known.title);
    }
    sendProblem(res, known);
  };
}

function causeSummary(cause: unknown): string | undefined {
  if (!cause) return undefined;
  if (cause instanceof Error) return `${(cause as NodeJS.ErrnoException).code ?? cause.name}: ${cause.message}`;
  return String(cause);
}
