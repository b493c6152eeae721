import { LRUCache } from 'lru-cache';
import type { KeyValueStore, SetOptions } from './key-value-store';

type Entry = string | Set<string>;

/**
 * A bounded in-process stand-in for Redis when no REDIS_URL is set: every
 * entry expires, and past `maxEntries` the least recently used is evicted, so
 * memory stays flat however many sessions are opened (unlike express-session's
 * MemoryStore). Single process only: it is refused in production.
 */
export function createMemoryStore(maxEntries = 50_000): KeyValueStore {
  const cache = new LRUCache<string, Entry>({ max: maxEntries, ttlAutopurge: false, allowStale: false });

  const str = (key: string): string | null => {
    const v = cache.get(key);
    return typeof v === 'string' ? v : null;
  };

  return {
    kind: 'memory',
    async get(key) {
      return str(key);
    },
    async set(key: string, value: string, options: SetOptions) {
      if (options.ifAbsent && cache.has(key)) return false;
      cache.set(key, value, { ttl: Math.max(1, options.ttlMs) });
      return true;
    },
    async del(keys) {
      let n = 0;
      for (const k of keys) if (cache.delete(k)) n += 1;
      return n;
    },
    async expire(key, ttlSeconds) {
      const v = cache.get(key);
      if (v !== undefined) cache.set(key, v, { ttl: ttlSeconds * 1000 });
    },
    async deleteIfEquals(key, expected) {
      if (str(key) !== expected) return false;
      cache.delete(key);
      return true;
    },
    async replaceIfEquals(key, expected, value, ttlMs) {
      if (str(key) !== expected) return false;
      cache.set(key, value, { ttl: Math.max(1, ttlMs) });
      return true;
    },
    async setAdd(key, member, ttlMs) {
      const existing = cache.get(key);
      const set = existing instanceof Set ? existing : new Set<string>();
      set.add(member);
      cache.set(key, set, { ttl: ttlMs });
      return set.size;
    },
    async setMembers(key) {
      const v = cache.get(key);
      return v instanceof Set ? [...v] : [];
    },
    async setRemove(key, members) {
      const v = cache.get(key);
      if (v instanceof Set) for (const m of members) v.delete(m);
    },
    async deleteByPrefix(prefix) {
      let deleted = 0;
      for (const key of [...cache.keys()]) {
        if (!key.startsWith(prefix)) continue;
        if (cache.has(key)) deleted += 1;
        cache.delete(key);
      }
      return deleted;
    },
    async ping() {
      return undefined;
    },
    async close() {
      cache.clear();
    },
  };
}
