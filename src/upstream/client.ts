import http from 'node:http';
import https from 'node:https';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import type { Envelope } from '../errors';
import {
  UpstreamAuthFailure,
  UpstreamFault,
  UpstreamTimeout,
  UpstreamUnreachable,
  UpstreamUnreadable,
} from '../errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { EndpointSpec } from './catalogue';
import type { Signer } from './signer';
import { credentialErrorCodes, isBusinessCode } from './status-map';

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
 * @example
 * const client = createUpstreamClient({ baseUrl, timeoutMs: 5000, maxSockets: 256, signer, logger, metrics });
 * const answer = await client.call({ endpoint: endpoint('partner/getprog'), sub: '', body: { lang: 'fr' }, requestId });
 */
export function createUpstreamClient(options: UpstreamClientOptions): UpstreamClient {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: Math.min(64, options.maxSockets), scheduling: 'lifo' as const };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  const instance: AxiosInstance = axios.create({
    baseURL: options.baseUrl,
    timeout: options.timeoutMs,
    httpAgent,
    httpsAgent,
    proxy: false,
    maxRedirects: 0,
    responseType: 'text',
    maxContentLength: MAX_ANSWER_BYTES,
    // The body is already the exact signed bytes; axios must not touch it.
    transformRequest: [(data: unknown) => data],
    transformResponse: [(data: unknown) => data],
    validateStatus: () => true,
  });
  const { logger, metrics } = options;

  async function send(input: UpstreamCallInput): Promise<{ status: number; text: string }> {
    const extra = input.traceparent ? { traceparent: input.traceparent } : undefined;
    const signed = await options.signer.sign({
      sub: input.sub,
      body: input.body,
      requestId: input.requestId,
      ...(extra ? { extraSignedHeaders: extra } : {}),
    });
    const res = await instance.post<string>(input.endpoint.path, signed.body, { headers: signed.headers });
    return { status: res.status, text: typeof res.data === 'string' ? res.data : String(res.data ?? '') };
  }

  function transportError(err: unknown, path: string): Error {
    if (err instanceof AxiosError) {
      if (err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT' || err.code === AxiosError.ETIMEDOUT) {
        return new UpstreamTimeout(`Upstream ${path} did not answer within the timeout`, path, { cause: err });
      }
      if (err.code === 'ERR_BAD_RESPONSE' || err.message.includes('maxContentLength')) {
        return new UpstreamUnreadable(`Upstream answer to ${path} could not be read`, path, { cause: err });
      }
      return new UpstreamUnreachable(`Upstream ${path} unreachable (${err.code ?? 'network error'})`, path, { cause: err });
    }
    return new UpstreamUnreachable(`Upstream ${path} failed`, path, { cause: err });
  }

  async function call(input: UpstreamCallInput): Promise<UpstreamAnswer> {
    const path = input.endpoint.path;
    const started = process.hrtime.bigint();
    let label = 'transport';
    let outcome = 'ok';
    try {
      let raw: { status: number; text: string };
      try {
        raw = await send(input);
      } catch (err) {
        const code = err instanceof AxiosError ? err.code : undefined;
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
        throw new UpstreamFault(`Upstream ${path} answered HTTP ${raw.status}`, path, raw.status, code);
      }
      const envelope = parseEnvelope(raw.text, path);
      label = String(envelope.errorCode);
      if (credentialErrorCodes.has(envelope.errorCode)) {
        logger.error(
          { endpoint: path, upstreamErrorCode: envelope.errorCode, upstreamMessage: envelope.errorMsg, requestId: input.requestId },
          'upstream refused the partner credentials or signature: check APM_PARTNER_ID, APM_PARTNER_SECRET, the clock and the APM_* encoding settings',
        );
        throw new UpstreamAuthFailure(`Upstream refused the signature of ${path} (errorCode ${envelope.errorCode})`, path, envelope.errorCode);
      }
      if (!isBusinessCode(envelope.errorCode)) {
        throw new UpstreamFault(`Upstream ${path} answered errorCode ${envelope.errorCode}`, path, raw.status, envelope.errorCode);
      }
      outcome = envelope.errorCode === 0 ? 'ok' : 'refused';
      return { errorCode: envelope.errorCode, envelope, text: raw.text };
    } catch (err) {
      outcome = errorOutcome(err);
      throw err;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.upstreamDuration.observe({ endpoint: path, error_code: label }, seconds);
      metrics.upstreamCalls.inc({ endpoint: path, error_code: label, outcome });
    }
  }

  return {
    call,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

function errorOutcome(err: unknown): string {
  if (err instanceof UpstreamTimeout) return 'timeout';
  if (err instanceof UpstreamUnreachable) return 'unreachable';
  if (err instanceof UpstreamUnreadable) return 'unreadable';
  if (err instanceof UpstreamAuthFailure) return 'credentials';
  return 'fault';
}
