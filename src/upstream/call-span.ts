import { context, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ServiceError } from '../errors';
import { TRACER_NAME } from '../observability/tracing';
import type { UpstreamAnswer, UpstreamCallInput } from './client';

type Call = (input: UpstreamCallInput) => Promise<UpstreamAnswer>;

const w3c = new W3CTraceContextPropagator();

/**
 * Wraps the upstream client's `call` (`baseUrl`: the upstream's, for `server.*`) in a CLIENT span per call, `POST <endpoint>`, whose context
 * is the `traceparent` the upstream receives (signed with the other headers, as before): the
 * upstream's own traces continue from this span, not from the caller's.
 *
 * What a span holds is chosen here, field by field, never copied from the call: the endpoint
 * path, the upstream's `errorCode` and the outcome. Never the body, the `sub` (a `userToken` or
 * the back-end token), the signature or an answer, so that a trace backend holds no credential
 * or personal data.
 */
export function tracedUpstreamCalls(call: Call, baseUrl: string): Call {
  const tracer = trace.getTracer(TRACER_NAME);
  const base = new URL(baseUrl);
  const peer = { address: base.hostname.replace(/^\[|\]$/g, ''), port: Number(base.port) || (base.protocol === 'https:' ? 443 : 80) };
  return (input) =>
    tracer.startActiveSpan(
      `POST ${input.endpoint.path}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': 'POST',
          'server.address': peer.address,
          'server.port': peer.port,
          'miles.upstream.endpoint': input.endpoint.path,
          'miles.upstream.signed_with': input.endpoint.token,
        },
      },
      async (span) => {
        const carrier: Record<string, string> = {};
        w3c.inject(context.active(), carrier, { set: (c, key, value) => (c[key] = value) });
        try {
          const answer = await call(carrier.traceparent ? { ...input, traceparent: carrier.traceparent } : input);
          span.setAttribute('miles.upstream.error_code', answer.errorCode);
          return answer;
        } catch (err) {
          span.setAttributes(failureAttributes(err));
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof ServiceError ? err.code : 'error' });
          throw err;
        } finally {
          span.end();
        }
      },
    );
}

/** The typed error's stable code and, when the upstream gave one, its errorCode; never a message. */
function failureAttributes(err: unknown): Attributes {
  const attributes: Attributes = { 'error.type': err instanceof ServiceError ? err.code : err instanceof Error ? err.name : 'unknown' };
  if (!(err instanceof ServiceError)) return attributes;
  if (err.upstreamHttpStatus !== undefined) attributes['http.response.status_code'] = err.upstreamHttpStatus;
  if (err.upstreamErrorCode !== undefined) attributes['miles.upstream.error_code'] = err.upstreamErrorCode;
  return attributes;
}
