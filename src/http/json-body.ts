import express, { type RequestHandler } from 'express';
import { UnsupportedMediaType } from '../errors';

export const BODY_LIMIT_BYTES = 16 * 1024;

const parseJson = express.json({ limit: BODY_LIMIT_BYTES, strict: false, type: () => true });

function hasBody(headers: import('node:http').IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * JSON bodies only, 16 KiB at most. An empty body counts as `{}`; any other
 * content type is 415. Whether the result is an object, and which keys it may
 * hold, is the schema's business (validation.ts).
 */
export function jsonBody(): RequestHandler {
  return (req, res, next) => {
    if (!hasBody(req.headers)) {
      req.body = {};
      next();
      return;
    }
    const type = req.headers['content-type'];
    if (typeof type !== 'string' || !/^application\/json\s*(;|$)/i.test(type.trim())) {
      next(new UnsupportedMediaType('Bodies must be application/json.'));
      return;
    }
    parseJson(req, res, (err?: unknown) => {
      if (err) {
        next(err);
        return;
      }
      if (req.body === undefined) req.body = {};
      next();
    });
  };
}
