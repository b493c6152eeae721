import { context, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';

/** Name of this service's own tracer (the instrumentations name theirs). */
export const TRACER_NAME = 'miles-bff';

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Whether the standard OpenTelemetry variables ask this process for spans: an OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_ENDPOINT`, or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` for traces alone), and
 * neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`. Without one, nothing of the
 * SDK is even loaded: tracing off costs nothing.
 */
export function tracingRequested(env: Environment): boolean {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!endpoint) return false;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((e) => e.trim().toLowerCase());
  return !(exporters.length === 1 && exporters[0] === 'none');
}

/** The trace fields a log line of a traced request carries. */
export interface TraceLogFields {
  readonly trace_id?: string;
  readonly span_id?: string;
  readonly trace_flags?: string;
}

/**
 * `trace_id`, `span_id` and `trace_flags` of the span active where a line is logged (a pino
 * `mixin`), in the names the OpenTelemetry log data model gives them, so that a log backend links
 * each line to its trace. Nothing outside a traced request.
 */
export function traceLogFields(): TraceLogFields {
  const span = trace.getSpan(context.active());
  // A new object each time: pino merges the line's own fields into it.
  if (span === undefined) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, trace_flags: traceFlags.toString(16).padStart(2, '0') };
}

/** What the response cache did for one request (a background `refresh` belongs to no request). */
export type CacheLookupResult = 'hit' | 'miss' | 'stale' | 'error-stale' | 'bypass';

/**
 * Marks the request's span with what the response cache did for it (`miles.cache.result`, and
 * `miles.cache.hit` when the answer came from the cache), plus an event, so that a trace shows
 * why it did or did not reach the upstream. A no-op when no span records (tracing off).
 */
export function recordCacheResult(endpoint: string, result: CacheLookupResult): void {
  const span = trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return;
  const attributes = {
    'miles.cache.endpoint': endpoint,
    'miles.cache.result': result,
    'miles.cache.hit': result === 'hit' || result === 'stale' || result === 'error-stale',
  };
  span.setAttributes(attributes);
  span.addEvent('cache', attributes);
}

/**
 * Runs `start` with tracing suppressed, for what it starts that outlives it and belongs to no
 * request: the Redis connection's own work (connect, reconnects, keep-alive pings every second)
 * would otherwise make one endless trace. What a request sends later is traced in the request's
 * context as usual.
 */
export function untraced<T>(start: () => T): T {
  return context.with(suppressTracing(context.active()), start);
}
