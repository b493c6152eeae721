import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import session, { type SessionData } from 'express-session';
import { RedisStore } from 'connect-redis';
import { sign, unsign } from 'cookie-signature';
import { LRUCache } from 'lru-cache';
import type { Settings } from '../config/settings';
import type { Metrics } from '../observability/metrics';
import type { KeyValueStore } from '../redis/key-value-store';
import type { Identity } from './identity';
import { bearerCredentialOf, SESSION_TOKEN_PREFIX } from './bearer-credential';
import { createTokenCipher, deriveTokenKey, type TokenCipher } from '../crypto/token-cipher';

export type SessionUser = Identity;

declare module 'express-session' {
  interface SessionData {
    user: SessionUser;
    /** The upstream userToken, sealed with the token cipher. */
    sealedToken: string;
    /** Epoch ms of the connect, for the absolute lifetime. */
    createdAt: number;
    transport: 'cookie' | 'token';
    /** Small data another module keeps with the session (the OIDC sid, sub and ID token hint). */
    extra?: SessionExtra;
  }
}

export type SessionTransport = 'cookie' | 'token';
export type SessionEndReason = 'logout' | 'delete' | 'revoked' | 'expired' | 'upstream-refused' | 'user-deleted' | 'superseded' | 'provider-logout';

/** Small per-session data another module keeps (e.g. the OIDC sid/sub/id_token hint). */
export type SessionExtra = Readonly<Record<string, string>>;

/** A loaded session as other modules may read it. */
export interface SessionRecord {
  readonly id: string;
  readonly user: SessionUser;
  readonly transport: SessionTransport;
  readonly createdAt: number;
  readonly extra?: SessionExtra;
}

export interface ConnectResult {
  /** The new session's id (for indexes other modules keep; never sent to a client). */
  readonly id: string;
  /** Present for the token transport: the opaque bearer token and its idle lifetime. */
  readonly session?: { readonly token: string; readonly expiresIn: number };
}

export interface Sessions {
  /** Loads the session (cookie or bearer token) through express-session: for the routes that write it (connect). */
  readonly middleware: RequestHandler;
  /**
   * Loads a connected session (cookie or bearer token) for the routes that only read it, or end
   * it: one Redis `GET`, the idle lifetime renewed as by `middleware` (throttled), nothing saved.
   */
  readonly reader: RequestHandler;
  connect(req: Request, res: Response, identity: Identity, userToken: string, transport: SessionTransport, extra?: SessionExtra): Promise<ConnectResult>;
  /** The loaded session, with its extra data. */
  sessionDataOf(req: Request): SessionRecord | undefined;
  /** Ends these sessions, on every replica (they share the store); answers how many existed. */
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

/** The first value of the cookie `name` in a Cookie header (as the `cookie` package reads it), undecoded. */
export function cookieValue(header: string, name: string): string | undefined {
  let i = 0;
  while (i < header.length) {
    let end = header.indexOf(';', i);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', i);
    if (eq > i && eq < end && header.slice(i, eq).trim() === name) return header.slice(eq + 1, end).trim();
    i = end + 1;
  }
  return undefined;
}


/**
 * connect-redis speaks to a node-redis-like client; this adapter gives it our
 * key-value store instead, so the same store code serves Redis (with its
 * timeouts and typed failures) and the bounded in-process store.
 */
function storeClient(kv: KeyValueStore): object {
  return {
    get: (key: string) => kv.get(key),
    set: (key: string, value: string, opts?: { expiration?: { value: number } }) => kv.set(key, value, { ttlMs: (opts?.expiration?.value ?? 86_400) * 1000 }),
    expire: (key: string, seconds: number) => kv.expire(key, seconds),
    del: (keys: string[] | string) => kv.del(Array.isArray(keys) ? keys : [keys]),
  };
}

/** The serialised content of a session just saved by `connect`, on the session object itself. */
const SAVED_CONTENT = Symbol('savedContent');
type MaybeSaved = SessionData & { [SAVED_CONTENT]?: string };

/**
 * connect-redis with the store round trips of express-session cut to what is needed:
 * - Touching every session on every request would double the Redis round trips of a read. The
 *   idle lifetime only needs renewing now and then: at most once per `interval` per session and
 *   process.
 * - A connect on a request without a stored session regenerates a session that was never saved
 *   (only connected sessions are: `saveUninitialized: false`): nothing to delete.
 * - A connect saves before it answers (so a failed save is a 503, not a broken answer), and
 *   express-session, which cannot tell a regenerated session was saved, would save the same
 *   content again at the end of the request.
 */
class LeanSessionStore extends RedisStore {
  private readonly touched: LRUCache<string, number>;
  constructor(opts: ConstructorParameters<typeof RedisStore>[0], private readonly intervalMs: number) {
    super(opts);
    this.touched = new LRUCache({ max: 100_000, ttl: intervalMs });
  }
  override async touch(sid: string, sess: SessionData, cb?: (err?: unknown) => void): Promise<unknown> {
    if (this.touched.has(sid)) {
      cb?.();
      return undefined;
    }
    this.touched.set(sid, Date.now());
    // A failed touch only leaves the idle lifetime as it was: the answer goes on (express-session
    // would otherwise fail it after its headers, dropping the connection) and the next request retries.
    return super.touch(sid, sess, (err?: unknown) => {
      if (err) this.touched.delete(sid);
      cb?.();
    });
  }
  override regenerate(req: Request, fn: (err?: unknown) => void): void {
    if (req.session?.user) {
      super.regenerate(req, fn);
      return;
    }
    (this as unknown as { generate(req: Request): void }).generate(req);
    fn();
  }
  override async set(sid: string, sess: SessionData, cb?: (err?: unknown) => void): Promise<unknown> {
    const saved = (sess as MaybeSaved)[SAVED_CONTENT];
    if (saved !== undefined && saved === JSON.stringify(sess)) {
      cb?.();
      return undefined;
    }
    // Just written with its whole idle lifetime: no touch needed for a while.
    return super.set(sid, sess, (err?: unknown) => {
      if (!err) this.touched.set(sid, Date.now());
      cb?.(err);
    });
  }
  /** After `sess` was saved: the same content need not be saved again by this request. */
  static markSaved(sess: object): void {
    Object.defineProperty(sess, SAVED_CONTENT, { value: JSON.stringify(sess), enumerable: false, configurable: true, writable: true });
  }
}

/**
 * After a failed store operation, leaves express-session nothing to save, destroy or set a cookie
 * for when the answer ends: it would try the store again, fail again after the headers were sent,
 * and drop the client's keep-alive connection. An unreadable session is unknown, not absent: it
 * must never be destroyed for a read that merely failed (`unset: 'destroy'`).
 */
function abandonSession(req: Request): void {
  (req as { session?: unknown }).session = undefined;
  (req as { sessionID?: string }).sessionID = undefined;
}

export function createSessions(options: SessionsOptions): Sessions {
  const { settings, store: kv, metrics } = options;
  const s = settings.session;
  const prefix = settings.redis.keyPrefix;
  const sessionPrefix = `${prefix}sess:`;
  const indexKey = (pcid: string): string => `${prefix}user-sessions:{${pcid}}`;
  const secrets = [...options.secrets];
  const cipher: TokenCipher = createTokenCipher(s.tokenEncryptionKeys.length ? s.tokenEncryptionKeys : [deriveTokenKey(secrets[0]!)]);
  const idleMs = s.idleTtlSeconds * 1000;
  const absoluteMs = s.absoluteTtlSeconds * 1000;

  const store = new LeanSessionStore(
    {
      client: storeClient(kv),
      prefix: sessionPrefix,
      // Idle lifetime, never past the absolute one.
      ttl: (sess: SessionData) => {
        const createdAt = sess.createdAt ?? Date.now();
        const left = Math.floor((createdAt + absoluteMs - Date.now()) / 1000);
        return Math.max(1, Math.min(s.idleTtlSeconds, left));
      },
    },
    Math.min(60_000, Math.floor(idleMs / 10)),
  );

  const relaxLoopback = s.cookieSecure && !settings.production;

  const cookieOptions = {
    httpOnly: true,
    secure: s.cookieSecure,
    sameSite: s.cookieSameSite,
    path: '/',
  } as const;

  const expressSession = session({
    name: s.cookieName,
    secret: secrets,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    unset: 'destroy',
    // A browser-session cookie: the server alone decides when a session ends.
    cookie: { ...cookieOptions, maxAge: undefined },
    genid: () => randomBytes(24).toString('base64url'),
  });

  /** Keeps our cookie out of an answer (token transport). */
  function suppressCookie(res: Response): void {
    const original = res.setHeader.bind(res);
    res.setHeader = ((name: string, value: string | number | readonly string[]) => {
      if (name.toLowerCase() === 'set-cookie') {
        const list = (Array.isArray(value) ? value : [String(value)]).filter((c: string) => !c.startsWith(`${s.cookieName}=`));
        if (list.length === 0) return res;
        return original(name, list);
      }
      return original(name, value);
    }) as Response['setHeader'];
  }

  /**
   * The signed session id of the mobile transport's bearer token, if the request carries one; the
   * answer then carries no session cookie.
   */
  function bearerTokenOf(req: Request, res: Response): string | undefined {
    const credential = bearerCredentialOf(req, false);
    if (credential?.kind !== 'session-token') return undefined;
    res.locals.sessionTransport = 'token';
    suppressCookie(res);
    return credential.signedId;
  }

  /**
   * The user of a connected session past its absolute lifetime (or without a connect time: made by
   * no connect of ours), else undefined.
   */
  function expiredUserOf(sess: Partial<SessionData> | undefined): SessionUser | undefined {
    return sess?.user && (!sess.createdAt || Date.now() - sess.createdAt > absoluteMs) ? sess.user : undefined;
  }

  /** Ends a session past its absolute lifetime: deleted by `deleteSession`, out of its user's index, counted. */
  async function endExpired(sid: string, partnerClientId: string, deleteSession: () => Promise<void>): Promise<void> {
    metrics.sessions.inc({ event: 'expired' });
    await deleteSession();
    await kv.setRemove(indexKey(partnerClientId), [sid]);
  }

  const middleware: RequestHandler = (req, res, next) => {
    if (relaxLoopback && !req.secure && isLoopbackHost(req.hostname)) {
      // Browsers treat http://localhost as a secure context and keep Secure
      // cookies there; express-session would refuse to set one over plain HTTP.
      Object.defineProperty(req, 'secure', { value: true, configurable: true });
    }
    const value = bearerTokenOf(req, res);
    // The mobile transport: present the token to express-session as its cookie would be.
    if (value !== undefined) req.headers.cookie = `${s.cookieName}=${encodeURIComponent(`s:${value}`)}`;
    expressSession(req, res, (err?: unknown) => {
      if (err) {
        abandonSession(req);
        next(err);
        return;
      }
      const expired = expiredUserOf(req.session);
      if (expired) {
        endExpired(req.sessionID, expired.partnerClientId, () => destroy(req)).then(
          () => next(),
          (destroyErr: unknown) => {
            abandonSession(req);
            next(destroyErr);
          },
        );
        return;
      }
      next();
    });
  };

  /**
   * The signed session id a request carries, as express-session would find it: the bearer token of
   * the mobile transport, else the first cookie of our name (`s:` + the signed id, URL-encoded).
   */
  function signedIdOf(req: Request, res: Response): string | undefined {
    const token = bearerTokenOf(req, res);
    if (token !== undefined) return token;
    const header = req.headers.cookie;
    const raw = header ? cookieValue(header, s.cookieName) : undefined;
    if (raw === undefined) return undefined;
    let value = raw;
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      value = decodeURIComponent(value);
    } catch {
      return undefined;
    }
    return value.startsWith('s:') ? value.slice(2) : undefined;
  }

  /** The session id, when one of the secrets signed it (the first signs; the others are being rotated out). */
  function verifiedId(signed: string): string | undefined {
    for (const secret of secrets) {
      const sid = unsign(signed, secret);
      if (sid !== false) return sid;
    }
    return undefined;
  }

  function parseStored(text: string | null): SessionData | undefined {
    if (text === null) return undefined;
    try {
      const data = JSON.parse(text) as SessionData;
      return typeof data === 'object' && data !== null ? data : undefined;
    } catch {
      return undefined;
    }
  }

  // express-session would also parse every cookie, wrap the answer's writeHead and end, build
  // Session and Cookie objects and hash the session's JSON twice to see whether to save it: a
  // fifth of a session-carried read's CPU. A route that only reads the session needs none of it.
  const reader: RequestHandler = (req, res, next) => {
    const signed = signedIdOf(req, res);
    const sid = signed === undefined ? undefined : verifiedId(signed);
    if (sid === undefined) {
      next();
      return;
    }
    const key = `${sessionPrefix}${sid}`;
    kv.get(key).then((text) => {
      const data = parseStored(text);
      if (data === undefined) {
        next();
        return;
      }
      const expired = expiredUserOf(data);
      if (expired) {
        endExpired(sid, expired.partnerClientId, async () => {
          await kv.del([key]);
        }).then(() => next(), next);
        return;
      }
      const loaded = { ...data } as SessionData & { destroy(cb: (err?: unknown) => void): void };
      Object.defineProperty(loaded, 'destroy', {
        enumerable: false,
        value: (cb: (err?: unknown) => void) => {
          kv.del([key]).then(() => {
            (req as { session?: unknown }).session = undefined;
            cb();
          }, cb);
        },
      });
      (req as { session?: unknown }).session = loaded;
      (req as { sessionID?: string }).sessionID = sid;
      // The idle lifetime, renewed as express-session would at the end of the answer (throttled).
      void store.touch(sid, data, () => undefined);
      next();
    }, next);
  };

  /**
   * Ends the user's oldest sessions beyond `SESSION_MAX_PER_USER`, never `current` (just connected),
   * so that one identity cannot fill the store. Runs after the save: every connect that takes the
   * index past the cap trims after its own session exists, so the last one to trim sees all of them. A session in the index without a
   * record is one still being connected (indexed before it is saved) or one already gone: it is
   * neither counted nor touched, so a connect in flight is never dropped from the index.
   */
  async function endOldest(partnerClientId: string, current: string): Promise<void> {
    const key = indexKey(partnerClientId);
    const sids = await kv.setMembers(key);
    if (sids.length <= s.maxPerUser) return;
    const others: { sid: string; createdAt: number }[] = [];
    await Promise.all(
      sids.map(async (sid) => {
        if (sid === current) return;
        const data = parseStored(await kv.get(`${sessionPrefix}${sid}`));
        if (data) others.push({ sid, createdAt: data.createdAt ?? 0 });
      }),
    );
    if (others.length < s.maxPerUser) return;
    others.sort((a, b) => b.createdAt - a.createdAt || (a.sid < b.sid ? -1 : 1));
    const oldest = others.slice(s.maxPerUser - 1).map((o) => o.sid);
    const ended = await kv.del(oldest.map((sid) => `${sessionPrefix}${sid}`));
    await kv.setRemove(key, oldest);
    if (ended) metrics.sessions.inc({ event: 'ended-superseded' }, ended);
  }

  function regenerate(req: Request): Promise<void> {
    return new Promise((resolve, reject) => req.session.regenerate((err?: unknown) => (err ? reject(err) : resolve())));
  }
  function save(req: Request): Promise<void> {
    return new Promise((resolve, reject) => req.session.save((err?: unknown) => (err ? reject(err) : resolve())));
  }
  function destroy(req: Request): Promise<void> {
    return new Promise((resolve, reject) => req.session.destroy((err?: unknown) => (err ? reject(err) : resolve())));
  }

  function clearCookie(res: Response): void {
    res.clearCookie(s.cookieName, cookieOptions);
  }

  return {
    middleware,
    reader,
    cookieWouldBeDropped(req) {
      return s.cookieSecure && !req.secure;
    },
    async connect(req, res, identity, userToken, transport, extra) {
      try {
        await regenerate(req);
        req.session.user = identity;
        req.session.sealedToken = cipher.encrypt(userToken);
        req.session.createdAt = Date.now();
        req.session.transport = transport;
        if (extra) req.session.extra = { ...extra };
        // Indexed before it is saved: a session that exists is always one "log out everywhere" can find.
        const indexed = await kv.setAdd(indexKey(identity.partnerClientId), req.sessionID, absoluteMs);
        await save(req);
        LeanSessionStore.markSaved(req.session);
        // Under the cap at the add, nothing to trim: a connect that comes later and passes it trims.
        if (indexed > s.maxPerUser) await endOldest(identity.partnerClientId, req.sessionID);
      } catch (err) {
        abandonSession(req);
        throw err;
      }
      metrics.sessions.inc({ event: 'created' });
      const id = req.sessionID;
      if (transport === 'token') {
        suppressCookie(res);
        return { id, session: { token: `${SESSION_TOKEN_PREFIX}${sign(id, secrets[0]!)}`, expiresIn: s.idleTtlSeconds } };
      }
      return { id };
    },
    sessionDataOf(req) {
      const data = req.session;
      if (!data?.user || !req.sessionID) return undefined;
      return {
        id: req.sessionID,
        user: data.user,
        transport: data.transport ?? 'cookie',
        createdAt: data.createdAt ?? 0,
        ...(data.extra ? { extra: data.extra } : {}),
      };
    },
    async revokeSessions(ids, reason) {
      if (ids.length === 0) return 0;
      const keys = ids.map((sid) => `${sessionPrefix}${sid}`);
      // Each record names its user: the ids leave that user's index too.
      const records = await Promise.all(keys.map(async (key) => parseStored(await kv.get(key))));
      const ended = await kv.del(keys);
      const byUser = new Map<string, string[]>();
      records.forEach((data, i) => {
        const pcid = data?.user?.partnerClientId;
        if (pcid) byUser.set(pcid, [...(byUser.get(pcid) ?? []), ids[i]!]);
      });
      await Promise.all([...byUser].map(([pcid, sids]) => kv.setRemove(indexKey(pcid), sids)));
      if (ended) metrics.sessions.inc({ event: `ended-${reason}` }, ended);
      return ended;
    },
    userOf(req) {
      return req.session?.user;
    },
    userTokenOf(req) {
      const sealed = req.session?.sealedToken;
      return sealed ? cipher.decrypt(sealed) : undefined;
    },
    async endCurrent(req, res, reason) {
      const pcid = req.session?.user?.partnerClientId;
      const sid = req.sessionID;
      try {
        if (req.session) await destroy(req);
        if (pcid) await kv.setRemove(indexKey(pcid), [sid]);
      } catch (err) {
        abandonSession(req);
        throw err;
      }
      metrics.sessions.inc({ event: `ended-${reason}` });
      clearCookie(res);
    },
    async revokeUser(partnerClientId, reason) {
      const key = indexKey(partnerClientId);
      const sids = await kv.setMembers(key);
      // The session keys sit on other cluster slots than the index: the store deletes them slot by slot.
      const ended = await kv.del(sids.map((sid) => `${sessionPrefix}${sid}`));
      // Only the ids just ended leave the index: a session that connected meanwhile stays revocable.
      await kv.setRemove(key, sids);
      if (ended) metrics.sessions.inc({ event: `ended-${reason}` }, ended);
      return ended;
    },
    clearCookie,
  };
}
