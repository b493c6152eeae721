import type { Request, RequestHandler } from 'express';
import { Forbidden } from '../errors';
import { bearerCredentialOf } from '../session/bearer-credential';

export interface BrowserGuardOptions {
  readonly allowedOrigins: readonly string[];
  /** The guarded route is the connect, where an ID token authenticates the request: `IDENTITY_MODE=jwt` only. */
  readonly idTokenConnect?: boolean;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const ALLOWED_REQUEST_HEADERS = 'Content-Type, X-CSRF, Idempotency-Key, X-Request-Id, X-Session-Transport, Authorization, If-None-Match, traceparent';
const EXPOSED_HEADERS = 'X-Request-Id, Retry-After, ETag, RateLimit, RateLimit-Policy';

/** The origin the request was addressed to, as the browser would write it. */
function ownOrigin(req: Request): string | undefined {
  const host = req.get('host');
  return host ? `${req.protocol}://${host}` : undefined;
}

/**
 * CORS for the allowed origins only, and the ambient-credential defences of
 * the contract: a cookie-carried request from a foreign origin is refused, and
 * a state-changing one must carry `X-CSRF: 1` (a header no cross-site form or
 * simple request can add). A request that a bearer credential will authenticate
 * instead of the cookie (`bearerCredentialOf`, the rule the session loader
 * follows too) carries no ambient credential, so neither rule applies to it;
 * any other `Authorization` (one a browser adds by itself) changes nothing.
 * Built per route: its options are the route's policy.
 */
export function browserGuard(options: BrowserGuardOptions): RequestHandler {
  const allowed = new Set(options.allowedOrigins);
  const idTokenConnect = options.idTokenConnect ?? false;
  return (req, res, next) => {
    const origin = req.headers.origin;
    const bearer = bearerCredentialOf(req, idTokenConnect) !== undefined;
    const isAllowedCrossOrigin = typeof origin === 'string' && allowed.has(origin);

    if (isAllowedCrossOrigin) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
    res.append('Vary', 'Origin');

    if (req.method === 'OPTIONS') {
      if (!isAllowedCrossOrigin) {
        next(new Forbidden('Origin not allowed.'));
        return;
      }
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_REQUEST_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    if (bearer) {
      next();
      return;
    }
    if (typeof origin === 'string' && !isAllowedCrossOrigin && origin !== ownOrigin(req)) {
      next(new Forbidden('Origin not allowed.'));
      return;
    }
    if (req.headers['sec-fetch-site'] === 'cross-site' && !isAllowedCrossOrigin && req.headers.cookie !== undefined) {
      next(new Forbidden('Cross-site request refused.'));
      return;
    }
    if (!SAFE_METHODS.has(req.method) && req.headers['x-csrf'] !== '1') {
      next(new Forbidden('Missing X-CSRF: 1 header.'));
      return;
    }
    next();
  };
}
