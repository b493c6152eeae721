import { randomUUID } from 'node:crypto';
import { createHttpTransport } from '../upstream/http-transport';
import { clockCheck } from './clock';
import type { CheckResult } from './report';
import { fixFor, transportFailureOf } from './transport-failure';

/** The read-only endpoint every probe calls: the program, for a visitor. */
export const PROBE_PATH = 'partner/getprog';

export interface ReachOutcome {
  readonly upstream: CheckResult;
  /** Undefined when no answer came. */
  readonly clock: CheckResult | undefined;
  /** Whether signed probes are worth sending. */
  readonly reachable: boolean;
}

/**
 * One unsigned POST of `{}` to `partner/getprog` through the service's own transport (its
 * agents, TLS and timeout): whether the upstream answers at all, whether the path exists,
 * and its clock. The upstream refuses it (no signature) and changes nothing.
 */
export async function checkReach(baseUrl: string, timeoutMs: number, now: () => number): Promise<ReachOutcome> {
  const transport = createHttpTransport({ baseUrl, timeoutMs, maxSockets: 1, maxAnswerBytes: 1024 * 1024 });
  const sentAt = now();
  try {
    const answer = await transport.post(PROBE_PATH, '{}', { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Request-Id': `doctor-${randomUUID()}` });
    const receivedAt = now();
    const data = { url: `${baseUrl}${PROBE_PATH}`, status: answer.status, ms: receivedAt - sentAt };
    const clock = clockCheck(answer.date, sentAt, receivedAt);
    if (answer.status === 404) {
      return {
        upstream: {
          name: 'upstream',
          status: 'fail',
          summary: `${baseUrl}${PROBE_PATH} answered HTTP 404: no such endpoint there`,
          fix: 'APM_BASE_URL must be the API base with its version, ending in "/" (e.g. https://api.appsmiles.eu/2.0/)',
          data,
        },
        clock,
        reachable: false,
      };
    }
    return {
      upstream: { name: 'upstream', status: 'pass', summary: `reachable at ${baseUrl} (HTTP ${answer.status} to an unsigned call in ${data.ms} ms)`, data },
      clock,
      reachable: true,
    };
  } catch (err) {
    const failure = transportFailureOf(err);
    const what =
      failure?.kind === 'tls'
        ? `TLS failure with ${new URL(baseUrl).host}: ${failure.code} (${failure.message})`
        : failure?.kind === 'timeout'
          ? `no answer from ${baseUrl} within ${timeoutMs} ms`
          : `unreachable: ${baseUrl} (${failure?.code ?? 'error'}: ${failure?.message ?? (err instanceof Error ? err.message : String(err))})`;
    return {
      upstream: {
        name: 'upstream',
        status: 'fail',
        summary: what,
        fix: failure ? fixFor(failure, baseUrl, timeoutMs) : 'check APM_BASE_URL',
        data: { url: baseUrl, failure: failure?.kind ?? 'error', code: failure?.code },
      },
      clock: undefined,
      reachable: false,
    };
  } finally {
    transport.close();
  }
}
