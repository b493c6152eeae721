/**
 * The few storage operations the service needs (sessions, session indexes,
 * cache entries, locks, idempotency records, the back-end token). One
 * interface, two implementations: Redis shared by every replica, and a
 * bounded in-process store for a single development process.
 *
 * Every failure of the backing store is a `SessionStoreUnavailable`, raised
 * within the command timeout: callers never hang on a stalled Redis.
 */
export interface SetOptions {
  /** Lifetime of the key, in milliseconds. */
  readonly ttlMs: number;
  /** Only write when the key does not exist (a lock). */
  readonly ifAbsent?: boolean;
}

export interface KeyValueStore {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  /** Returns false when `ifAbsent` was asked and the key existed. */
  set(key: string, value: string, options: SetOptions): Promise<boolean>;
  del(keys: readonly string[]): Promise<number>;
  expire(key: string, ttlSeconds: number): Promise<void>;
  /** Deletes `key` only while it still holds `expected` (releasing one's own lock). */
  deleteIfEquals(key: string, expected: string): Promise<boolean>;
  /** Writes `value` (with a new lifetime) only while `key` still holds `expected`, at once (a fenced hand-over). */
  replaceIfEquals(key: string, expected: string, value: string, ttlMs: number): Promise<boolean>;
  /** Adds `member` and (re)sets the set's lifetime; returns how many members the set then holds. */
  setAdd(key: string, member: string, ttlMs: number): Promise<number>;
  setMembers(key: string): Promise<string[]>;
  setRemove(key: string, members: readonly string[]): Promise<void>;
  /** Deletes every key starting with `prefix` (a cache purge); returns how many were deleted. */
  deleteByPrefix(prefix: string): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The text of a key's hash tag for an id. A Redis Cluster hashes a key on the text between its
 * first `{` and the next `}`: an id holding braces would otherwise hash on a part of itself, and
 * ids differing only after a brace would all land in one slot. Braces and `%` are
 * percent-encoded, so every id without them keeps its key.
 */
export function hashTag(id: string): string {
  return id.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
