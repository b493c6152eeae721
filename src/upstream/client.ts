import type { Envelope } from '../errors';
import {
  BadRequest,
  ServiceError,
  UpstreamAuthFailure,
  UpstreamCircuitOpen,
  UpstreamFault,
  UpstreamMisread,
  UpstreamTimeout,
  UpstreamUnreachable,
  UpstreamUnreadable,
} from '../errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { tracedUpstreamCalls } from './call-span';
import type { EndpointSpec } from './catalogue';
import { createCircuitBreaker, type CallVerdict, type CircuitBreaker, type CircuitState } from './circuit-breaker';
import { createHttpTransport, TransportError } from './http-transport';
import type { Signer } from './signer';
import { credentialErrorCodes, errorCodeLabel, isBusinessCode } from './status-map';
import { ErrorCode } from './error-code';

export interface UpstreamCallInput {
  readonly endpoint: EndpointSpec;
  /** `""`, the user's `userToken` or the back-end token, as the endpoint needs. */
  readonly sub: string;
  readonly body: Readonly<Record<string, unknown>>;
  readonly requestId: string;
  /** W3C trace context passed through (and signed) when the caller sent one. */
  readonly traceparent?: string;
}

/**
 * An answer the upstream gave on purpose: success (errorCode 0) or a
 * business refusal (2, 3, 4, 5, 6, 7, 11) whose envelope goes back to the
 * caller. Everything else is thrown as a typed `UpstreamError`.
 */
export interface UpstreamAnswer {
  readonly errorCode: number;
  readonly envelope: Envelope;
  /** The answer exactly as received, for pass-through without re-encoding. */
  readonly text: string;
}

export interface UpstreamClient {
  call(input: UpstreamCallInput): Promise<UpstreamAnswer>;
  close(): void;
}

export interface UpstreamClientOptions {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxSockets: number;
  readonly signer: Signer;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /**
   * The circuit breaker (settings group `resilience`); none when absent or
   * not enabled.
   */
  readonly circuitBreaker?: CircuitBreakerSettings;
  /** A span per call (call-span.ts), when the process exports traces. */
  readonly traced?: boolean;
  /**
   * HTTP statuses that, without the upstream's envelope, come from a proxy in front of it
   * (UPSTREAM_NOT_APPLIED_STATUSES): such a fault applied nothing. 503 when absent.
   */
  readonly notAppliedStatuses?: ReadonlySet<number>;
}

export interface CircuitBreakerSettings {
  readonly enabled: boolean;
  readonly failureThreshold: number;
  readonly failureRatePercent: number;
  readonly windowSeconds: number;
  readonly openSeconds: number;
  /** Faults in a row that open the circuit; 0: off. */
  readonly consecutiveFailures?: number;
  /** Epoch ms; tests inject their own clock. */
  readonly now?: () => number;
}

const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'half-open', 'open'];

/** One series per state, 1 for the current one: `max by (state)` and alerts read it without a value table. */
function showCircuitState(metrics: Metrics, current: CircuitState): void {
  for (const state of CIRCUIT_STATES) metrics.upstreamCircuitState.set({ state }, state === current ? 1 : 0);
}

const RETRYABLE_TRANSPORT = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED']);
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

function parseEnvelope(text: string, endpoint: string): Envelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new UpstreamUnreadable(`Upstream answer to ${endpoint} is not JSON`, endpoint, { cause });
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !Number.isInteger((parsed as { errorCode?: unknown }).errorCode) ||
    typeof (parsed as { errorMsg?: unknown }).errorMsg !== 'string'
  ) {
    throw new UpstreamUnreadable(`Upstream answer to ${endpoint} is not an envelope`, endpoint);
  }
  return parsed as Envelope;
}

/**
 * The one path to the upstream: sign, send with keep-alive, decode the
 * envelope into a typed answer or a typed error. Reads are retried once on a
 * connection reset (a keep-alive socket the upstream had closed); mutations
 * never are, since their outcome is then unknown.
 *
 * A circuit breaker (`CIRCUIT_BREAKER_*`) counts the upstream's faults as
 * each error's `upstreamHealth` says (errors.ts): timeouts, unreachable, 5xx
 * (or errorCode 99 and unknown codes) and unreadable answers count; business
 * refusals are answers, not faults; refusals of our credentials (errorCode 1,
 * 8, 9, 10) show the upstream answering. While the circuit is open a call
 * throws `UpstreamCircuitOpen` (503, `Retry-After`) before anything is signed
 * or sent. The metrics' `outcome` label is the error's `callOutcome`.
 *
 * Below 500 the status is read exactly: a 2xx with errorCode 0 is success;
 * errorCode 0 under another status, or any 404 (the upstream does not know
 * the path), is `UpstreamMisread` (502), never a refusal blamed on the caller.
 *
 * @example
 * const client = createUpstreamClient({ baseUrl, timeoutMs: 5000, maxSockets: 256, signer, logger, metrics });
 * const answer = await client.call({ endpoint: endpoint('partner/getprog'), sub: '', body: { lang: 'fr' }, requestId });
 */
export function createUpstreamClient(options: UpstreamClientOptions): UpstreamClient {
  // axios over keep-alive agents, sending the signed body bytes as they are (http-transport.ts).
  const transport = createHttpTransport({ baseUrl: options.baseUrl, timeoutMs: options.timeoutMs, maxSockets: options.maxSockets, maxAnswerBytes: MAX_ANSWER_BYTES });
  const { logger, metrics } = options;
  const notAppliedStatuses = options.notAppliedStatuses;
  const breaker = options.circuitBreaker?.enabled ? circuitBreakerFor(options.circuitBreaker, logger, metrics) : undefined;

  async function send(input: UpstreamCallInput): Promise<{ status: number; text: string }> {
    const extra = input.traceparent ? { traceparent: input.traceparent } : undefined;
    let signed: Awaited<ReturnType<Signer['sign']>>;
    try {
      signed = await options.signer.sign({
        sub: input.sub,
        body: input.body,
        requestId: input.requestId,
        ...(extra ? { extraSignedHeaders: extra } : {}),
      });
    } catch (cause) {
      throw new NotSent(cause);
    }
    return transport.post(input.endpoint.path, signed.body, signed.headers);
  }

  function transportError(err: unknown, path: string): Error {
    if (err instanceof TransportError) {
      if (err.code === 'ETIMEDOUT') {
        return new UpstreamTimeout(`Upstream ${path} did not answer within the timeout`, path, { cause: err });
      }
      if (err.code === 'ERR_BAD_RESPONSE') {
        return new UpstreamUnreadable(`Upstream answer to ${path} could not be read`, path, { cause: err });
      }
      return new UpstreamUnreachable(`Upstream ${path} unreachable (${err.code ?? 'network error'})`, path, { cause: err });
    }
    return new UpstreamUnreachable(`Upstream ${path} failed`, path, { cause: err });
  }

  async function call(input: UpstreamCallInput): Promise<UpstreamAnswer> {
    const path = input.endpoint.path;
    const admission = breaker?.admit();
    if (admission && !admission.admitted) {
      const open = new UpstreamCircuitOpen(
        `Upstream ${path} not called: the circuit is open after repeated upstream failures; retry in ${admission.retryAfterSeconds} s.`,
        path,
        admission.retryAfterSeconds,
      );
      metrics.upstreamCalls.inc({ endpoint: path, error_code: 'circuit', outcome: open.callOutcome });
      throw open;
    }
    const started = process.hrtime.bigint();
    let label = 'transport';
    let outcome = 'ok';
    let verdict: CallVerdict = 'neutral';
    try {
      let raw: { status: number; text: string };
      try {
        raw = await send(input);
      } catch (err) {
        if (err instanceof NotSent) throw unsendable(err.cause, path);
        const code = err instanceof TransportError ? err.code : undefined;
        if (input.endpoint.effect === 'read' && code && RETRYABLE_TRANSPORT.has(code)) {
          logger.debug({ endpoint: path, code, requestId: input.requestId }, 'upstream read retried after a reset connection');
          try {
            raw = await send(input);
          } catch (second) {
            throw transportError(second, path);
          }
        } else {
          throw transportError(err, path);
        }
      }
      if (raw.status >= 500) {
        // A 5xx may still carry an envelope (errorCode 99); report it if so.
        let code: number | undefined;
        try {
          code = parseEnvelope(raw.text, path).errorCode;
        } catch {
          code = undefined;
        }
        throw new UpstreamFault(`Upstream ${path} answered HTTP ${raw.status}`, path, raw.status, code, { notAppliedStatuses });
      }
      if (raw.status === 404) throw misread(raw, path, input.requestId, logger, 'a path the upstream does not know: the catalogue (or APM_CATALOGUE_FILE) and the real API disagree');
      const envelope = parseEnvelope(raw.text, path);
      label = errorCodeLabel(envelope.errorCode);
      if (envelope.errorCode === ErrorCode.Ok && (raw.status < 200 || raw.status > 299)) {
        throw misread(raw, path, input.requestId, logger, 'success (errorCode 0) under a status that is not 2xx');
      }
      if (credentialErrorCodes.has(envelope.errorCode)) {
        const context = { endpoint: path, upstreamErrorCode: envelope.errorCode, upstreamMessage: envelope.errorMsg, requestId: input.requestId };
        // An expired back-end token (10) is routine: the token layer renews it and retries.
        if (envelope.errorCode === ErrorCode.ExpiredBackendToken) logger.warn(context, 'upstream refused the back-end token');
        else logger.error(context, 'upstream refused the partner credentials or signature: check APM_PARTNER_ID, APM_PARTNER_SECRET, the clock and the APM_* encoding settings');
        throw new UpstreamAuthFailure(`Upstream refused the signature of ${path} (errorCode ${envelope.errorCode})`, path, envelope.errorCode);
      }
      if (!isBusinessCode(envelope.errorCode)) {
        throw new UpstreamFault(`Upstream ${path} answered errorCode ${envelope.errorCode}`, path, raw.status, envelope.errorCode);
      }
      outcome = envelope.errorCode === ErrorCode.Ok ? 'ok' : 'refused';
      verdict = 'success';
      return { errorCode: envelope.errorCode, envelope, text: raw.text };
    } catch (err) {
      outcome = err instanceof ServiceError ? err.callOutcome : 'fault';
      verdict = err instanceof ServiceError ? err.upstreamHealth : 'neutral';
      throw err;
    } finally {
      if (admission?.admitted) admission.settle(verdict);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.upstreamDuration.observe({ endpoint: path, error_code: label }, seconds);
      metrics.upstreamCalls.inc({ endpoint: path, error_code: label, outcome });
    }
  }

  return {
    call: options.traced ? tracedUpstreamCalls(call, options.baseUrl) : call,
    close() {
      transport.close();
    },
  };
}

/**
 * Below 500, only a 2xx with errorCode 0 is a success, and a 404 is never the
 * caller's doing: logged loudly with the status, answered 502.
 */
function misread(raw: { status: number; text: string }, path: string, requestId: string, logger: Logger, what: string): UpstreamMisread {
  let code: number | undefined;
  try {
    code = parseEnvelope(raw.text, path).errorCode;
  } catch {
    code = undefined;
  }
  logger.error({ endpoint: path, upstreamStatus: raw.status, upstreamErrorCode: code, requestId }, `upstream answered HTTP ${raw.status} to ${path}: ${what}`);
  return new UpstreamMisread(`Upstream answered HTTP ${raw.status} to ${path} (${what})`, path, raw.status, code);
}

/** The call failed before anything was sent: the request could not be signed. */
class NotSent extends Error {
  constructor(override readonly cause: unknown) {
    super('not sent', { cause });
  }
}

/**
 * A request the signer refused to encode (a lone UTF-16 surrogate, which PHP's
 * json_encode refuses too) is the caller's bad input, never an upstream fault:
 * 400, nothing sent, not counted by the circuit breaker.
 */
function unsendable(cause: unknown, path: string): unknown {
  if (cause instanceof RangeError) return new BadRequest(`The request to ${path} holds text that cannot be sent upstream: ${cause.message}`, { cause });
  return cause;
}

function circuitBreakerFor(settings: CircuitBreakerSettings, logger: Logger, metrics: Metrics): CircuitBreaker {
  showCircuitState(metrics, 'closed');
  return createCircuitBreaker({
    failureThreshold: settings.failureThreshold,
    failureRatePercent: settings.failureRatePercent,
    windowSeconds: settings.windowSeconds,
    openSeconds: settings.openSeconds,
    ...(settings.consecutiveFailures ? { consecutiveFailures: settings.consecutiveFailures } : {}),
    ...(settings.now ? { now: settings.now } : {}),
    onStateChange({ from, to, failures, calls }) {
      showCircuitState(metrics, to);
      metrics.upstreamCircuitTransitions.inc({ to });
      if (to === 'open' && from === 'closed') {
        logger.error(
          { circuit: to, failures, calls, windowSeconds: settings.windowSeconds, openSeconds: settings.openSeconds },
          `upstream circuit OPEN: ${failures} of ${calls} upstream calls failed within ${settings.windowSeconds} s (or ${settings.consecutiveFailures ?? 0} in a row); answering 503 for ${settings.openSeconds} s, then one trial call`,
        );
      } else if (to === 'open') {
        logger.error({ circuit: to, openSeconds: settings.openSeconds }, `upstream circuit OPEN again: the trial call failed; answering 503 for ${settings.openSeconds} s`);
      } else if (to === 'half-open') {
        logger.warn({ circuit: to }, 'upstream circuit half-open: one trial call goes through');
      } else {
        logger.info({ circuit: to }, 'upstream circuit closed: the upstream answers again');
      }
    },
  });
}
