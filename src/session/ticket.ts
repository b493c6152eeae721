import type { Request } from 'express';
import { parse as parseCookies } from 'cookie';
import { sign, unsign } from 'cookie-signature';
import { bearerCredentialOf, SESSION_TOKEN_PREFIX } from './bearer-credential';

export type SessionTransport = 'cookie' | 'token';

/** The session a request names, by the transport that carried it. */
export interface Ticket {
  /** The session id, its signature verified. */
  readonly id: string;
  readonly transport: SessionTransport;
}

/**
 * The session ticket: how a session id travels to the client and back, signed so that a client
 * cannot name a session it was not given. The cookie keeps express-session's format
 * (`s:` + `cookie-signature`'s signature of the id, URL-encoded by the cookie), so the cookies
 * browsers already hold keep working; the mobile transport's bearer token is `mbs.` + the same
 * signed id.
 */
export interface TicketCodec {
  /**
   * The verified session id a request carries: a bearer session token when the request has one
   * (`bearer-credential.ts` decides; the cookie is then never read), else the first cookie of
   * our name. Undefined when absent, unsigned or signed by none of the secrets.
   */
  read(req: Request): Ticket | undefined;
  /** The cookie value naming `id` (before the cookie's URL-encoding). */
  cookieValue(id: string): string;
  /** The bearer token naming `id`. */
  bearerToken(id: string): string;
}

/**
 * @param cookieName the session cookie's name (`__Host-` prefixed when secure).
 * @param secrets the signing secrets: the first signs, every one verifies (rotation).
 * @example
 * const tickets = createTicketCodec('miles.sid', ['new-secret', 'old-secret']);
 * res.cookie('miles.sid', tickets.cookieValue(id), options);
 * tickets.read(req); // { id, transport: 'cookie' }
 */
export function createTicketCodec(cookieName: string, secrets: readonly string[]): TicketCodec {
  if (secrets.length === 0) throw new Error('createTicketCodec: at least one secret is needed');
  const signing = secrets[0]!;
  const verifying = [...secrets];

  function verified(signed: string): string | undefined {
    for (const secret of verifying) {
      const id = unsign(signed, secret);
      if (id !== false) return id;
    }
    return undefined;
  }

  return {
    read(req) {
      const credential = bearerCredentialOf(req, false);
      if (credential?.kind === 'session-token') {
        const id = verified(credential.signedId);
        return id === undefined ? undefined : { id, transport: 'token' };
      }
      const header = req.headers.cookie;
      if (header === undefined) return undefined;
      const value = parseCookies(header)[cookieName];
      if (value === undefined || !value.startsWith('s:')) return undefined;
      const id = verified(value.slice(2));
      return id === undefined ? undefined : { id, transport: 'cookie' };
    },
    cookieValue(id) {
      return `s:${sign(id, signing)}`;
    },
    bearerToken(id) {
      return `${SESSION_TOKEN_PREFIX}${sign(id, signing)}`;
    },
  };
}
