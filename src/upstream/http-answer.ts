import type { UpstreamAnswer } from './client';
import { businessStatus } from './status-map';

/**
 * An answer ready to send, in a form that can be stored and replayed byte for byte (the
 * response cache, idempotency records). It lives beside the upstream client, below `cache/` and
 * `http/`, because both keep answers and neither may import the other's layer.
 */
export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** The upstream errorCode behind it, when there was one. */
  readonly errorCode?: number;
}

export const JSON_TYPE = 'application/json; charset=utf-8';

/** The upstream's own answer (success or business refusal), status mapped per the contract. */
export function answerFromUpstream(upstream: UpstreamAnswer, body: string = upstream.text): HttpAnswer {
  return { status: businessStatus[upstream.errorCode] ?? 502, body, contentType: JSON_TYPE, errorCode: upstream.errorCode };
}
