import type { Request, Response } from 'express';
import type { HttpAnswer } from '../upstream/http-answer';
import { requestContextOf } from './request-context';

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag.replace(/^W\//, ''));
}

/** Writes an answer (`If-None-Match` against its `ETag` gives 304); HEAD gets the headers alone. */
export function sendAnswer(req: Request, res: Response, answer: HttpAnswer): void {
  if (answer.headers) for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
  if (!answer.headers || !('Cache-Control' in answer.headers)) res.setHeader('Cache-Control', 'no-store');
  if (answer.errorCode !== undefined) requestContextOf(res).upstreamErrorCode = answer.errorCode;
  const etag = answer.headers?.ETag;
  if (etag && answer.status === 200 && (req.method === 'GET' || req.method === 'HEAD') && etagMatches(req.headers['if-none-match'], etag)) {
    res.status(304).end();
    return;
  }
  res.status(answer.status).setHeader('Content-Type', answer.contentType);
  res.end(req.method === 'HEAD' ? undefined : answer.body);
}
