import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { InternalApiKey } from '../config/settings';
import { ServiceError } from '../errors';
import { requestContextOf } from './request-context';

/** A call on `/internal` without a key of `INTERNAL_API_KEYS`. */
export class InvalidApiKey extends ServiceError {
  readonly code = 'ERR_INVALID_API_KEY';
  readonly status = 401;
  readonly title = 'Invalid or missing API key';
}

/** Longer than any key worth hashing; refused without looking further. */
const MAX_CREDENTIAL_LENGTH = 1024;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * What the audit log names a key by when its entry has no `name:` part: a
 * short fingerprint that identifies the key among the configured ones and
 * cannot be turned back into it.
 */
export function keyFingerprint(key: string): string {
  return `sha256:${sha256(key).toString('base64url').slice(0, 8)}`;
}

/** The id logged for a configured key: its name, else its fingerprint. */
export function callerKeyIdOf(entry: InternalApiKey): string {
  return entry.id ?? keyFingerprint(entry.key);
}

/**
 * `Authorization: Bearer <key>` against `INTERNAL_API_KEYS` (several at once,
 * for rotation). The digests are computed once here; a request hashes the key
 * it presents and compares it with every configured digest in constant time,
 * without stopping at the first match, so neither the content nor the position
 * of a key leaks through timing. On success the request context's `callerKeyId`
 * holds the key's id (never the key), which the access log writes as `caller`.
 *
 * @example
 * internalApp.use('/internal', internalAuth(settings.internalApiKeys), router);
 */
export function internalAuth(keys: readonly InternalApiKey[]): RequestHandler {
  const known = keys.map((entry) => ({ digest: sha256(entry.key), id: callerKeyIdOf(entry) }));
  const challenge = 'Bearer realm="miles-bff internal"';

  return (req, res, next) => {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header) : null;
    const presented = match?.[1];
    if (!presented || presented.length > MAX_CREDENTIAL_LENGTH) {
      res.setHeader('WWW-Authenticate', challenge);
      next(new InvalidApiKey('Send Authorization: Bearer <key> with a key of INTERNAL_API_KEYS.'));
      return;
    }
    const digest = sha256(presented);
    let found: string | undefined;
    for (const candidate of known) {
      if (timingSafeEqual(candidate.digest, digest) && found === undefined) found = candidate.id;
    }
    if (found === undefined) {
      res.setHeader('WWW-Authenticate', `${challenge}, error="invalid_token"`);
      next(new InvalidApiKey('The API key is not one of INTERNAL_API_KEYS.'));
      return;
    }
    requestContextOf(res).callerKeyId = found;
    next();
  };
}
