import pino, { type DestinationStream, type Logger } from 'pino';
import { traceLogFields } from './tracing';

export type { Logger } from 'pino';

/**
 * Paths censored in every log line. Compiled once by pino (fast-redact), so
 * the cost on the hot path is a property check, not a scan.
 */
export const redactedPaths: readonly string[] = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  'headers["set-cookie"]',
  '*.userToken',
  '*.token',
  '*.jwt',
  '*.secret',
  '*.partnerSecret',
  '*.sessionId',
  '*.sid',
  'userToken',
  'token',
  'jwt',
  'secret',
  'partnerSecret',
  'sessionId',
  'sid',
  'data.user.userToken',
  'body.data.user.userToken',
];

export interface LoggerOptions {
  readonly level: string;
  /** Where lines go; tests pass a stream to read every line back. */
  readonly destination?: DestinationStream;
  /** Adds `trace_id`, `span_id` and `trace_flags` to each line logged within a span (tracing on). */
  readonly traceFields?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'miles-bff' },
      redact: { paths: [...redactedPaths], censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Off, no mixin at all: a line costs what it did before tracing existed.
      ...(options.traceFields ? { mixin: traceLogFields } : {}),
    },
    options.destination,
  );
}
