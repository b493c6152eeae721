import type { Request, Response } from 'express';
import type { UpstreamAnswer } from '../upstream/client';
import { businessStatus } from '../upstream/status-map';

/**
 * An answer ready to send, in a form that can be stored and replayed
 * byte for byte (response cache, idempotency records).
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

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag.replace(/^W\//, ''));
}

export function sendAnswer(req: Request, res: Response, answer: HttpAnswer): void {
  if (answer.headers) for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
  if (!answer.headers || !('Cache-Control' in answer.headers)) res.setHeader('Cache-Control', 'no-store');
  if (answer.errorCode !== undefined) res.locals.upstreamErrorCode = answer.errorCode;
  const etag = answer.headers?.ETag;
  if (etag && answer.status === 200 && (req.method === 'GET' || req.method === 'HEAD') && etagMatches(req.headers['if-none-match'], etag)) {
    res.status(304).end();
    return;
  }
  res.status(answer.status).setHeader('Content-Type', answer.contentType);
  res.end(req.method === 'HEAD' ? undefined : answer.body);
}
