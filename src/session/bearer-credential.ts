import type { Request } from 'express';

/** Bearer tokens of the mobile transport carry this prefix, so ID tokens are never mistaken for them. */
export const SESSION_TOKEN_PREFIX = 'mbs.';

/**
 * A credential the request carries in `Authorization: Bearer`, that will authenticate it instead
 * of the session cookie:
 * - `session-token`: the mobile transport's session token (`mbs.` + the signed session id); the
 *   session loader then reads that session and never the cookie;
 * - `id-token`: the partner's ID token, on the connect of `IDENTITY_MODE=jwt`.
 */
export type BearerCredential =
  | { readonly kind: 'session-token'; readonly signedId: string }
  | { readonly kind: 'id-token'; readonly token: string };

/** RFC 6750 `b64token`, scheme case-insensitive. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * The one rule for which requests are authenticated by a bearer credential, shared by the browser
 * guard (which exempts exactly these from the ambient-credential checks), the session loader
 * and the identity source (which serve exactly these without the cookie). Any other `Authorization`
 * (Basic, Digest, NTLM or Negotiate that a browser adds by itself, a malformed or unknown bearer)
 * is no credential of ours: the cookie serves the request and every browser check applies.
 *
 * `idTokenConnect`: the request is the connect, and `IDENTITY_MODE=jwt` takes the identity from an
 * ID token there.
 *
 * @example
 * bearerCredentialOf(req, false); // { kind: 'session-token', signedId } for "Bearer mbs.…"
 */
export function bearerCredentialOf(req: Request, idTokenConnect: boolean): BearerCredential | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const token = BEARER.exec(header)?.[1];
  if (token === undefined) return undefined;
  if (token.startsWith(SESSION_TOKEN_PREFIX)) return { kind: 'session-token', signedId: token.slice(SESSION_TOKEN_PREFIX.length) };
  return idTokenConnect ? { kind: 'id-token', token } : undefined;
}
