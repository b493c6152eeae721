import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { RedisInstrumentation } from '@opentelemetry/instrumentation-redis';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { Environment } from './tracing';

/** The route template a request matched (`/api/gift/list`), read from the answer; undefined when none matched. */
export type MatchedRoute = (res: ServerResponse | IncomingMessage) => string | undefined;

/** The running OpenTelemetry SDK: `shutdown()` exports the spans still buffered. */
export interface TracingSdk {
  shutdown(): Promise<void>;
}

/** Paths whose requests get no span: the probes and the scrape, every few seconds, say nothing. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Query parameters whose values never reach a span (`url.query`): credentials a provider or a
 * careless caller might put in a URL. The public reads take only `lang`, `page` and `limit`.
 */
const REDACTED_QUERY_PARAMETERS = ['code', 'state', 'token', 'access_token', 'id_token', 'refresh_token', 'logout_token', 'key', 'sig', 'signature'];

/**
 * Starts the OpenTelemetry Node SDK, configured by the standard `OTEL_*` variables (endpoint,
 * protocol, headers, sampler, batch sizes, resource, propagators), with:
 * - inbound HTTP spans (the `traceparent` of the caller is continued), named after the route
 *   template the service matched (`GET /api/partner/getprog`), never the raw path;
 * - Redis command spans, within a request only, whose `db.query.text` is the command name alone
 *   (keys hold session ids and user ids);
 * - no outgoing HTTP spans from the instrumentation: the upstream call has its own span
 *   (upstream/call-span.ts), whose `traceparent` is signed with the other headers; one injected
 *   unsigned over it would break the signature.
 * Traces only: metrics stay on `/metrics` (Prometheus), logs on stdout with `trace_id`.
 *
 * Must run before the modules it instruments (`node:http`, `redis`) are loaded: server.ts calls
 * it first and loads the app afterwards.
 */
export function startTracingSdk(env: Environment, matchedRoute: MatchedRoute): TracingSdk {
  const named = Boolean(env.OTEL_SERVICE_NAME?.trim()) || /(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    ...(named ? {} : { serviceName: 'miles-bff' }),
    instrumentations: [
      new HttpInstrumentation({
        disableOutgoingRequestInstrumentation: true,
        ignoreIncomingRequestHook: (req: IncomingMessage) => UNTRACED_PATHS.has((req.url ?? '').split('?', 1)[0] ?? ''),
        redactedQueryParamsServer: REDACTED_QUERY_PARAMETERS,
        applyCustomAttributesOnSpan: (span, req, res) => {
          const route = matchedRoute(res);
          if (route === undefined) return;
          span.setAttribute('http.route', route);
          span.updateName(`${(req as IncomingMessage).method ?? 'GET'} ${route}`);
        },
      }),
      new RedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
    ],
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
