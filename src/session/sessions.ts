import { randomBytes } from 'node:crypto';
import type { CookieOptions, Request, RequestHandler, Response } from 'express';
import type { Settings } from '../config/settings';
import type { Metrics } from '../observability/metrics';
import type { KeyValueStore } from '../redis/key-value-store';
import type { Identity } from './identity';
import { bearerCredentialOf } from './bearer-credential';
import { createSessionRecords, type SessionExtra, type SessionRecords, type SessionUser, type StoredSession } from './session-store';
import { createTicketCodec, type SessionTransport } from './ticket';
import { createTokenCipher, deriveTokenKey, type TokenCipher } from '../crypto/token-cipher';

export type { SessionExtra, SessionUser } from './session-store';
export type { SessionTransport } from './ticket';

export type SessionEndReason = 'logout' | 'delete' | 'revoked' | 'expired' | 'upstream-refused' | 'user-deleted' | 'superseded' | 'provider-logout';

/** A connected session, as the loader found it (or as the connect made it). */
export interface SessionRecord {
  readonly id: string;
  readonly user: SessionUser;
  readonly transport: SessionTransport;
  /** Epoch ms of the connect. */
  readonly createdAt: number;
  readonly extra?: SessionExtra;
}

export interface ConnectResult {
  /** The new session's id (for a module that indexes its own data by session). */
  readonly id: string;
  /** Present for the token transport: the opaque bearer token and its idle lifetime. */
  readonly session?: { readonly token: string; readonly expiresIn: number };
}

export interface Sessions {
  /**
   * The one session loader, for every route and both transports (the cookie, or the `mbs.` bearer
   * token of the mobile transport): one store read; a session past its absolute lifetime is ended;
   * the idle lifetime renewed now and then. A request naming no live session goes on without one.
   * A store failure is passed on (503).
   */
  readonly load: RequestHandler;
  /**
   * Connects: a new session id (a session the request already had is ended first: no fixation),
   * the userToken sealed in the store, the user's oldest sessions beyond `SESSION_MAX_PER_USER`
   * ended; the cookie set, or for the token transport the bearer token returned.
   */
  connect(req: Request, res: Response, identity: Identity, userToken: string, transport: SessionTransport, extra?: SessionExtra): Promise<ConnectResult>;
  /** The loaded session, with its extra. */
  sessionDataOf(req: Request): SessionRecord | undefined;
  /** Ends these sessions on every replica (they share the store); returns how many existed. */
  revokeSessions(ids: readonly string[], reason: SessionEndReason): Promise<number>;
  userOf(req: Request): SessionUser | undefined;
  /** The decrypted userToken of a connected session, or undefined. */
  userTokenOf(req: Request): string | undefined;
  /** Ends the current session and clears the cookie. */
  endCurrent(req: Request, res: Response, reason: SessionEndReason): Promise<void>;
  /** Ends every session of a user, on every replica (they share the store). */
  revokeUser(partnerClientId: string, reason: SessionEndReason): Promise<number>;
  clearCookie(res: Response): void;
  /**
   * True when a Secure cookie cannot be set on this request (plain HTTP that
   * the service does not know to be behind TLS): connecting would look
   * successful while no browser would keep the session.
   */
  cookieWouldBeDropped(req: Request): boolean;
}

export interface SessionsOptions {
  readonly settings: Settings;
  readonly store: KeyValueStore;
  readonly metrics: Metrics;
  /** Secrets signing the cookie; the first signs. */
  readonly secrets: readonly string[];
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function isLoopbackHost(hostname: string | undefined): boolean {
  return hostname !== undefined && (LOOPBACK_HOSTS.has(hostname) || hostname.endsWith('.localhost'));
}

/** What the loader keeps for a request: the session and its sealed userToken. */
interface Loaded {
  readonly record: SessionRecord;
  readonly sealedToken: string;
}

function recordOf(id: string, stored: StoredSession): SessionRecord {
  return {
    id,
    user: stored.user,
    transport: stored.transport,
    createdAt: stored.createdAt,
    ...(stored.extra ? { extra: stored.extra } : {}),
  };
}

export function createSessions(options: SessionsOptions): Sessions {
  const { settings, store: kv, metrics } = options;
  const s = settings.session;
  const tickets = createTicketCodec(s.cookieName, options.secrets);
  const records: SessionRecords = createSessionRecords({
    kv,
    keyPrefix: settings.redis.keyPrefix,
    idleTtlSeconds: s.idleTtlSeconds,
    absoluteTtlSeconds: s.absoluteTtlSeconds,
    maxPerUser: s.maxPerUser,
  });
  const cipher: TokenCipher = createTokenCipher(s.tokenEncryptionKeys.length ? s.tokenEncryptionKeys : [deriveTokenKey(options.secrets[0]!)]);
  // Browsers treat http://localhost as a secure context and keep Secure cookies there.
  const relaxLoopback = s.cookieSecure && !settings.production;
  // A browser-session cookie (no Max-Age): the server alone decides when a session ends.
  const cookieOptions: CookieOptions = { httpOnly: true, secure: s.cookieSecure, sameSite: s.cookieSameSite, path: '/' };
  const loaded = new WeakMap<Request, Loaded>();

  async function loadInto(req: Request): Promise<void> {
    const ticket = tickets.read(req);
    if (ticket === undefined) return;
    const stored = await records.read(ticket.id);
    if (stored === undefined) return;
    if (records.isExpired(stored)) {
      metrics.sessions.inc({ event: 'expired' });
      await records.remove(ticket.id, stored.user.partnerClientId);
      return;
    }
    loaded.set(req, { record: recordOf(ticket.id, stored), sealedToken: stored.sealedToken });
    records.touch(ticket.id, stored);
  }

  const load: RequestHandler = (req, _res, next) => {
    loadInto(req).then(() => next(), next);
  };

  function clearCookie(res: Response): void {
    res.clearCookie(s.cookieName, cookieOptions);
  }

  return {
    load,
    cookieWouldBeDropped(req) {
      return s.cookieSecure && !req.secure && !(relaxLoopback && isLoopbackHost(req.hostname));
    },
    async connect(req, res, identity, userToken, transport, extra) {
      const previous = loaded.get(req);
      if (previous) {
        loaded.delete(req);
        await records.discard(previous.record.id);
      }
      const id = randomBytes(24).toString('base64url');
      const stored: StoredSession = {
        user: identity,
        sealedToken: cipher.encrypt(userToken),
        createdAt: Date.now(),
        transport,
        ...(extra ? { extra } : {}),
      };
      const superseded = await records.create(id, stored);
      if (superseded) metrics.sessions.inc({ event: 'ended-superseded' }, superseded);
      metrics.sessions.inc({ event: 'created' });
      loaded.set(req, { record: recordOf(id, stored), sealedToken: stored.sealedToken });
      if (transport === 'token') return { id, session: { token: tickets.bearerToken(id), expiresIn: s.idleTtlSeconds } };
      res.cookie(s.cookieName, tickets.cookieValue(id), cookieOptions);
      return { id };
    },
    sessionDataOf(req) {
      return loaded.get(req)?.record;
    },
    async revokeSessions(ids, reason) {
      const ended = await records.removeMany(ids);
      if (ended) metrics.sessions.inc({ event: `ended-${reason}` }, ended);
      return ended;
    },
    userOf(req) {
      return loaded.get(req)?.record.user;
    },
    userTokenOf(req) {
      const current = loaded.get(req);
      return current ? cipher.decrypt(current.sealedToken) : undefined;
    },
    async endCurrent(req, res, reason) {
      const current = loaded.get(req);
      if (current) {
        await records.remove(current.record.id, current.record.user.partnerClientId);
        loaded.delete(req);
      }
      metrics.sessions.inc({ event: `ended-${reason}` });
      // A request of the token transport has no cookie of ours to clear.
      if (bearerCredentialOf(req, false)?.kind !== 'session-token') clearCookie(res);
    },
    async revokeUser(partnerClientId, reason) {
      const ended = await records.removeUser(partnerClientId);
      if (ended) metrics.sessions.inc({ event: `ended-${reason}` }, ended);
      return ended;
    },
    clearCookie,
  };
}
