import type { Cookie, SessionData } from 'express-session';
import { RedisStore } from 'connect-redis';
import { LRUCache } from 'lru-cache';
import { hashTag, type KeyValueStore } from '../redis/key-value-store';
import type { Identity } from './identity';
import type { SessionTransport } from './ticket';

export type SessionUser = Identity;
/** Small per-session data another module keeps with the session (e.g. the OIDC sid, sub, ID token hint). */
export type SessionExtra = Readonly<Record<string, string>>;

declare module 'express-session' {
  interface SessionData {
    user: SessionUser;
    /** The upstream userToken, sealed with the token cipher. */
    sealedToken: string;
    /** Epoch ms of the connect, for the absolute lifetime. */
    createdAt: number;
    transport: SessionTransport;
    extra?: SessionExtra;
  }
}

/** What the store holds for one connected session. */
export interface StoredSession {
  readonly user: SessionUser;
  readonly sealedToken: string;
  readonly createdAt: number;
  readonly transport: SessionTransport;
  readonly extra?: SessionExtra;
}

/**
 * The records of connected sessions: one record per session id, with its idle lifetime (renewed,
 * never past the absolute one), and an index per user so that every session of a user can be
 * found (revoked on every replica, capped at `maxPerUser`). Records are bytes under a key, kept
 * by connect-redis's `RedisStore` over the service's key-value store (Redis with its deadlines and
 * typed failures, or the bounded in-process store).
 */
export interface SessionRecords {
  /** The record of `id`; undefined when absent or unreadable. Rejects when the store fails. */
  read(id: string): Promise<StoredSession | undefined>;
  /**
   * Saves a new session and indexes it under its user; then ends the user's oldest sessions beyond
   * the cap. Returns how many were ended so.
   */
  create(id: string, session: StoredSession): Promise<number>;
  /** Renews the idle lifetime, at most once per renewal interval per session and process; never fails. */
  touch(id: string, session: StoredSession): void;
  /** True past the absolute lifetime. */
  isExpired(session: StoredSession): boolean;
  /** Deletes one session and takes it out of its user's index. */
  remove(id: string, partnerClientId: string): Promise<void>;
  /**
   * Deletes one session's record only: its index entry, pointing at nothing, is skipped by the cap
   * and dropped by the next revocation or the index's expiry. For the connect over a connected
   * session, which so keeps to one round trip more than a first connect.
   */
  discard(id: string): Promise<void>;
  /** Deletes these sessions (whoever they belong to) and takes them out of their users' indexes; returns how many existed. */
  removeMany(ids: readonly string[]): Promise<number>;
  /** Deletes every session of a user; returns how many existed. */
  removeUser(partnerClientId: string): Promise<number>;
}

export interface SessionRecordsOptions {
  readonly kv: KeyValueStore;
  /** The service's key prefix (`REDIS_KEY_PREFIX`). */
  readonly keyPrefix: string;
  readonly idleTtlSeconds: number;
  readonly absoluteTtlSeconds: number;
  readonly maxPerUser: number;
  /** The clock, epoch ms (a fake one in tests). */
  readonly now?: () => number;
}

/** The key of a user's session index. */
export function userIndexKey(keyPrefix: string, partnerClientId: string): string {
  return `${keyPrefix}user-sessions:{${hashTag(partnerClientId)}}`;
}

/**
 * connect-redis speaks to a node-redis-like client; this adapter gives it our key-value store
 * instead, so the same store code serves Redis and the bounded in-process store.
 */
function storeClient(kv: KeyValueStore): object {
  return {
    get: (key: string) => kv.get(key),
    set: (key: string, value: string, opts?: { expiration?: { value: number } }) => kv.set(key, value, { ttlMs: (opts?.expiration?.value ?? 86_400) * 1000 }),
    expire: (key: string, seconds: number) => kv.expire(key, seconds),
    del: (keys: string[] | string) => kv.del(Array.isArray(keys) ? keys : [keys]),
  };
}

/**
 * Written into every record so that a replica still loading sessions through express-session (a
 * rolling deploy) reads it: express-session expects a `cookie` in each record.
 */
const RECORD_COOKIE: Cookie = { originalMaxAge: null, httpOnly: true, path: '/' };

function storedOf(data: unknown): StoredSession | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const d = data as Partial<SessionData>;
  if (typeof d.user?.partnerClientId !== 'string' || typeof d.sealedToken !== 'string') return undefined;
  return {
    user: d.user,
    sealedToken: d.sealedToken,
    // A record without a connect time was made by no connect of ours: past any absolute lifetime.
    createdAt: typeof d.createdAt === 'number' ? d.createdAt : 0,
    transport: d.transport === 'token' ? 'token' : 'cookie',
    ...(d.extra && typeof d.extra === 'object' ? { extra: d.extra } : {}),
  };
}

/** A serializer that never throws on a record it cannot read: an unreadable record is no session. */
const lenientJson = {
  parse(text: string): SessionData {
    try {
      return JSON.parse(text) as SessionData;
    } catch {
      return {} as SessionData;
    }
  },
  stringify: (data: SessionData): string => JSON.stringify(data),
};

export function createSessionRecords(options: SessionRecordsOptions): SessionRecords {
  const { kv, keyPrefix, maxPerUser } = options;
  const now = options.now ?? Date.now;
  const sessionPrefix = `${keyPrefix}sess:`;
  const absoluteMs = options.absoluteTtlSeconds * 1000;
  const indexKey = (pcid: string): string => userIndexKey(keyPrefix, pcid);
  const store = new RedisStore({
    client: storeClient(kv),
    prefix: sessionPrefix,
    serializer: lenientJson,
    // Idle lifetime, never past the absolute one.
    ttl: (data: SessionData) => {
      const left = Math.floor(((data.createdAt ?? now()) + absoluteMs - now()) / 1000);
      return Math.max(1, Math.min(options.idleTtlSeconds, left));
    },
  });
  // Touching every session on every request would double the store round trips of a read; the idle
  // lifetime only needs renewing now and then.
  const renewalMs = Math.max(1, Math.min(60_000, Math.floor((options.idleTtlSeconds * 1000) / 10)));
  const touched = new LRUCache<string, true>({ max: 100_000, ttl: renewalMs });

  function dataOf(session: StoredSession): SessionData {
    return { cookie: RECORD_COOKIE, ...session };
  }

  async function read(id: string): Promise<StoredSession | undefined> {
    return storedOf(await store.get(id));
  }

  /**
   * Ends the user's oldest sessions beyond the cap, never `current` (just connected). Runs after the
   * save: every connect that takes the index past the cap trims after its own session exists, so
   * the last one to trim sees all of them. A session in the index without a record is one still
   * being connected (indexed before it is saved) or one already gone: neither counted nor touched,
   * so a connect in flight is never dropped from the index.
   */
  async function endOldest(partnerClientId: string, current: string): Promise<number> {
    const key = indexKey(partnerClientId);
    const ids = await kv.setMembers(key);
    if (ids.length <= maxPerUser) return 0;
    const others: { id: string; createdAt: number }[] = [];
    await Promise.all(
      ids.map(async (id) => {
        if (id === current) return;
        const session = await read(id);
        if (session) others.push({ id, createdAt: session.createdAt });
      }),
    );
    if (others.length < maxPerUser) return 0;
    others.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
    const oldest = others.slice(maxPerUser - 1).map((o) => o.id);
    const ended = await kv.del(oldest.map((id) => `${sessionPrefix}${id}`));
    await kv.setRemove(key, oldest);
    return ended;
  }

  return {
    read,
    async create(id, session) {
      // Indexed before it is saved: a session that exists is always one "log out everywhere" can find.
      const indexed = await kv.setAdd(indexKey(session.user.partnerClientId), id, absoluteMs);
      await store.set(id, dataOf(session));
      // Just written with its whole idle lifetime: no renewal needed for a while.
      touched.set(id, true);
      // Under the cap at the add, nothing to trim: a connect that comes later and passes it trims.
      return indexed > maxPerUser ? endOldest(session.user.partnerClientId, id) : 0;
    },
    touch(id, session) {
      if (touched.has(id)) return;
      touched.set(id, true);
      // A failed renewal only leaves the idle lifetime as it was: the next request retries.
      store.touch(id, dataOf(session)).catch(() => touched.delete(id));
    },
    isExpired(session) {
      return now() - session.createdAt > absoluteMs;
    },
    async remove(id, partnerClientId) {
      touched.delete(id);
      await store.destroy(id);
      await kv.setRemove(indexKey(partnerClientId), [id]);
    },
    async discard(id) {
      touched.delete(id);
      await store.destroy(id);
    },
    async removeMany(ids) {
      if (ids.length === 0) return 0;
      const owners = await Promise.all(ids.map(async (id) => ({ id, session: await read(id) })));
      // The session keys sit on other cluster slots than each other: the store deletes them slot by slot.
      const ended = await kv.del(ids.map((id) => `${sessionPrefix}${id}`));
      const byUser = new Map<string, string[]>();
      for (const { id, session } of owners) {
        touched.delete(id);
        if (!session) continue;
        const list = byUser.get(session.user.partnerClientId) ?? [];
        list.push(id);
        byUser.set(session.user.partnerClientId, list);
      }
      await Promise.all([...byUser].map(([pcid, list]) => kv.setRemove(indexKey(pcid), list)));
      return ended;
    },
    async removeUser(partnerClientId) {
      const key = indexKey(partnerClientId);
      const ids = await kv.setMembers(key);
      if (ids.length === 0) return 0;
      // The session keys sit on other cluster slots than the index: the store deletes them slot by slot.
      const ended = await kv.del(ids.map((id) => `${sessionPrefix}${id}`));
      // Only the ids just ended leave the index: a session that connected meanwhile stays revocable.
      await kv.setRemove(key, ids);
      return ended;
    },
  };
}
