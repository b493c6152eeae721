import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric the service exports, on a registry of its own (several app
 * instances can share one process in tests). Names and labels are documented
 * in docs/operations.md.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequestDuration: Histogram<'listener' | 'route' | 'method' | 'status'>;
  readonly upstreamDuration: Histogram<'endpoint' | 'error_code'>;
  readonly upstreamCalls: Counter<'endpoint' | 'error_code' | 'outcome'>;
  readonly cacheResults: Counter<'endpoint' | 'result'>;
  readonly sessions: Counter<'event'>;
  readonly backendTokenRenewals: Counter<'outcome'>;
  readonly rateLimitRefusals: Counter<'limit'>;
  readonly idempotency: Counter<'result'>;
  /** The upstream circuit breaker: 1 for the `state` it is in, 0 for the others. */
  readonly upstreamCircuitState: Gauge<'state'>;
  readonly upstreamCircuitTransitions: Counter<'to'>;
  /** OpenID Connect sign-ins by outcome: `signed-in`, or the reason of `?signin_error=`. */
  readonly signIns: Counter<'outcome'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  // Under their standard names (process_*, nodejs_*), which stock Node dashboards and alerts query.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'miles_bff_http_request_duration_seconds',
      help: 'Duration of HTTP requests answered by the service, by listener, route, method and status.',
      labelNames: ['listener', 'route', 'method', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'miles_bff_upstream_duration_seconds',
      help: 'Duration of upstream calls, by endpoint and errorCode (or a transport outcome).',
      labelNames: ['endpoint', 'error_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    upstreamCalls: new Counter({
      name: 'miles_bff_upstream_calls_total',
      help: 'Upstream calls by endpoint, errorCode and outcome (ok, refused, timeout, unreachable, fault, unreadable, credentials, circuit-open).',
      labelNames: ['endpoint', 'error_code', 'outcome'],
      registers,
    }),
    cacheResults: new Counter({
      name: 'miles_bff_cache_results_total',
      help: 'Response cache results by endpoint: hit, miss, stale, refresh, error-stale, bypass.',
      labelNames: ['endpoint', 'result'],
      registers,
    }),
    sessions: new Counter({
      name: 'miles_bff_sessions_total',
      help: 'Session events: created, ended (logout, delete, revoked, expired, upstream-refused, user-deleted, superseded, provider-logout).',
      labelNames: ['event'],
      registers,
    }),
    backendTokenRenewals: new Counter({
      name: 'miles_bff_backend_token_renewals_total',
      help: 'Back-end token fetches by outcome.',
      labelNames: ['outcome'],
      registers,
    }),
    rateLimitRefusals: new Counter({
      name: 'miles_bff_rate_limit_refusals_total',
      help: 'Requests refused by a rate limit, by limit.',
      labelNames: ['limit'],
      registers,
    }),
    idempotency: new Counter({
      name: 'miles_bff_idempotency_total',
      help: 'Idempotency-Key outcomes: first, replayed, in-flight, mismatch, unknown (outcome unknown, key spent), released (failed before sending), resolving and resolved (an unknown outcome settled by sending again).',
      labelNames: ['result'],
      registers,
    }),
    upstreamCircuitState: new Gauge({
      name: 'miles_bff_upstream_circuit_state',
      help: 'State of the upstream circuit breaker of this replica: 1 for the state it is in (closed, half-open, open), 0 for the others.',
      labelNames: ['state'],
      registers,
    }),
    upstreamCircuitTransitions: new Counter({
      name: 'miles_bff_upstream_circuit_transitions_total',
      help: 'Changes of state of the upstream circuit breaker, by the state entered (open, half-open, closed).',
      labelNames: ['to'],
      registers,
    }),
    signIns: new Counter({
      name: 'miles_bff_sign_ins_total',
      help: 'OpenID Connect sign-ins by outcome: signed-in, or why not (login_expired, state_mismatch, invalid_response, invalid_identity, upstream_refused, provider_unavailable, access_denied, other).',
      labelNames: ['outcome'],
      registers,
    }),
  };
}
