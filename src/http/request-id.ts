import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { openRequestContext } from './request-context';

const VALID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Takes the caller's `X-Request-Id` when it is safe to echo and to sign
 * upstream, else makes one; every answer carries it. Opens the request's
 * context (request-context.ts).
 */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && VALID.test(given) ? given : randomUUID();
    openRequestContext(res, id);
    res.setHeader('X-Request-Id', id);
    next();
  };
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** A W3C `traceparent` worth passing upstream, or undefined. */
export function traceparentOf(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' && TRACEPARENT.test(header) && !/^[0-9a-f]{2}-0{32}-/.test(header) ? header : undefined;
}
