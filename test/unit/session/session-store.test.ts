import { createClient } from 'redis';
import calculateSlot from 'cluster-key-slot';
import { createLogger } from '../../../src/observability/logger';
import { hashTag, type KeyValueStore } from '../../../src/redis/key-value-store';
import { createMemoryStore } from '../../../src/redis/memory-store';
import { createRedisStore, type RedisKeyValueStore } from '../../../src/redis/redis-store';
import { createSessionRecords, userIndexKey, type SessionRecords, type StoredSession } from '../../../src/session/session-store';
import { dropPrefix, testRedisUrl, uniquePrefix } from '../../helpers/redis';

const IDLE = 1800;
const ABSOLUTE = 86_400;

function session(partnerClientId: string, createdAt: number, extra?: Record<string, string>): StoredSession {
  return { user: { partnerClientId, email: `${partnerClientId}@example.com` }, sealedToken: `sealed-${partnerClientId}`, createdAt, transport: 'cookie', ...(extra ? { extra } : {}) };
}

/** The hash tag Redis Cluster hashes a key on: between the first `{` and the next `}`. */
function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('user index key', () => {
  it('hashes on the whole id, braces and all', () => {
    for (const id of ['a{b}c', '{x}', 'x}y{z', '}', 'a%7Bb', 'plain@example.com']) {
      const key = userIndexKey('miles:', id);
      expect(hashTagOf(key)).toBe(hashTag(id));
      expect(decodeURIComponent(hashTag(id))).toBe(id);
      expect(calculateSlot(key)).toBe(calculateSlot(hashTag(id)));
    }
  });

  it('keeps the key of an id without braces or %', () => {
    expect(userIndexKey('miles:', 'user@example.com')).toBe('miles:user-sessions:{user@example.com}');
  });

  it('gives ids that differ only after a brace keys of their own', () => {
    expect(userIndexKey('p:', 'team}1')).not.toBe(userIndexKey('p:', 'team}2'));
    expect(hashTagOf(userIndexKey('p:', 'team}1'))).not.toBe(hashTagOf(userIndexKey('p:', 'team}2')));
    expect(userIndexKey('p:', 'a{b')).not.toBe(userIndexKey('p:', 'a%7Bb'));
  });
});

/** One suite, run against every store: a store cannot quietly behave differently. */
function recordsSuite(name: string, open: (prefix: string) => Promise<{ kv: KeyValueStore; close(): Promise<void> }>): void {
  describe(`session records on ${name}`, () => {
    let prefix: string;
    let kv: KeyValueStore;
    let close: () => Promise<void>;
    let clock: number;
    let records: SessionRecords;

    beforeEach(async () => {
      prefix = uniquePrefix('session-store');
      ({ kv, close } = await open(prefix));
      clock = 1_700_000_000_000;
      records = createSessionRecords({ kv, keyPrefix: prefix, idleTtlSeconds: IDLE, absoluteTtlSeconds: ABSOLUTE, maxPerUser: 3, now: () => clock });
    });
    afterEach(async () => {
      await close();
      await dropPrefix(prefix);
    });

    it('stores a session with its extra and reads it back', async () => {
      await records.create('s1', session('u1', clock, { sid: 'provider-sid' }));
      expect(await records.read('s1')).toEqual(session('u1', clock, { sid: 'provider-sid' }));
      expect(await kv.setMembers(userIndexKey(prefix, 'u1'))).toEqual(['s1']);
      expect(await records.read('absent')).toBeUndefined();
    });

    it('reads a record as express-session wrote it, and treats an unreadable one as no session', async () => {
      const legacy = { cookie: { originalMaxAge: null, httpOnly: true, path: '/' }, ...session('u1', clock), transport: 'token' };
      await kv.set(`${prefix}sess:legacy`, JSON.stringify(legacy), { ttlMs: 60_000 });
      expect(await records.read('legacy')).toEqual({ ...session('u1', clock), transport: 'token' });
      await kv.set(`${prefix}sess:broken`, '{not json', { ttlMs: 60_000 });
      expect(await records.read('broken')).toBeUndefined();
      await kv.set(`${prefix}sess:anonymous`, JSON.stringify({ cookie: {} }), { ttlMs: 60_000 });
      expect(await records.read('anonymous')).toBeUndefined();
    });

    it('writes records a replica loading through express-session can still read (a cookie field)', async () => {
      await records.create('s1', session('u1', clock));
      const text = await kv.get(`${prefix}sess:s1`);
      expect(JSON.parse(text!)).toMatchObject({ cookie: { originalMaxAge: null, httpOnly: true, path: '/' }, sealedToken: 'sealed-u1' });
    });

    it('ends a session at its absolute lifetime, whatever its idle renewals', () => {
      const s = session('u1', clock);
      clock += ABSOLUTE * 1000;
      expect(records.isExpired(s)).toBe(false);
      clock += 1;
      expect(records.isExpired(s)).toBe(true);
      expect(records.isExpired(session('u1', 0))).toBe(true);
    });

    it('removes one session and takes it out of its index', async () => {
      await records.create('s1', session('u1', clock));
      await records.create('s2', session('u1', clock + 1));
      await records.remove('s1', 'u1');
      expect(await records.read('s1')).toBeUndefined();
      expect(await kv.setMembers(userIndexKey(prefix, 'u1'))).toEqual(['s2']);
    });

    it('discards a record alone, and the cap skips its index entry', async () => {
      await records.create('s1', session('u1', clock));
      await records.discard('s1');
      expect(await records.read('s1')).toBeUndefined();
      for (let i = 2; i <= 4; i++) expect(await records.create(`s${i}`, session('u1', clock + i))).toBe(0);
      expect(await records.create('s5', session('u1', clock + 5))).toBe(1);
      expect(await records.read('s2')).toBeUndefined();
    });

    it('caps the sessions of a user, ending the oldest and never the new one', async () => {
      let ended = 0;
      for (let i = 1; i <= 5; i++) ended += await records.create(`s${i}`, session('u1', clock + i));
      expect(ended).toBe(2);
      expect(await records.read('s1')).toBeUndefined();
      expect(await records.read('s2')).toBeUndefined();
      for (const id of ['s3', 's4', 's5']) expect(await records.read(id)).toBeDefined();
      expect((await kv.setMembers(userIndexKey(prefix, 'u1'))).sort()).toEqual(['s3', 's4', 's5']);
    });

    it('removes every session of a user, and only theirs', async () => {
      await records.create('a1', session('u{1}', clock));
      await records.create('a2', session('u{1}', clock));
      await records.create('b1', session('u2', clock));
      expect(await records.removeUser('u{1}')).toBe(2);
      expect(await records.read('a1')).toBeUndefined();
      expect(await records.read('b1')).toBeDefined();
      expect(await kv.setMembers(userIndexKey(prefix, 'u{1}'))).toEqual([]);
      expect(await records.removeUser('nobody')).toBe(0);
    });

    it('removes sessions by id across users, out of each index', async () => {
      await records.create('a1', session('u1', clock));
      await records.create('a2', session('u1', clock));
      await records.create('b1', session('u2', clock));
      expect(await records.removeMany(['a1', 'b1', 'gone'])).toBe(2);
      expect(await records.read('a2')).toBeDefined();
      expect(await kv.setMembers(userIndexKey(prefix, 'u1'))).toEqual(['a2']);
      expect(await kv.setMembers(userIndexKey(prefix, 'u2'))).toEqual([]);
      expect(await records.removeMany([])).toBe(0);
    });
  });
}

recordsSuite('Redis', async () => {
  const kv: RedisKeyValueStore = await createRedisStore({ url: testRedisUrl(), commandTimeoutMs: 1000, logger: createLogger({ level: 'silent' }) });
  return { kv, close: () => kv.close() };
});
recordsSuite('the in-process store', async () => ({ kv: createMemoryStore(), close: async () => undefined }));

describe('session records lifetimes in Redis', () => {
  let prefix: string;
  let kv: RedisKeyValueStore;
  let redis: ReturnType<typeof createClient>;

  beforeAll(async () => {
    redis = createClient({ url: testRedisUrl() });
    await redis.connect();
  });
  afterAll(async () => {
    await redis.close();
  });
  beforeEach(async () => {
    prefix = uniquePrefix('session-ttl');
    kv = await createRedisStore({ url: testRedisUrl(), commandTimeoutMs: 1000, logger: createLogger({ level: 'silent' }) });
  });
  afterEach(async () => {
    await kv.close();
    await dropPrefix(prefix);
  });

  it('gives a record its idle lifetime, never past the absolute one', async () => {
    const clock = 1_700_000_000_000;
    const records = createSessionRecords({ kv, keyPrefix: prefix, idleTtlSeconds: IDLE, absoluteTtlSeconds: ABSOLUTE, maxPerUser: 10, now: () => clock });
    await records.create('fresh', session('u1', clock));
    expect(await redis.ttl(`${prefix}sess:fresh`)).toBeGreaterThan(IDLE - 5);
    await records.create('old', session('u1', clock - (ABSOLUTE - 100) * 1000));
    const ttl = await redis.ttl(`${prefix}sess:old`);
    expect(ttl).toBeLessThanOrEqual(100);
    expect(ttl).toBeGreaterThan(90);
  });

  it('renews the idle lifetime once per interval, not on every read', async () => {
    const records = createSessionRecords({ kv, keyPrefix: prefix, idleTtlSeconds: IDLE, absoluteTtlSeconds: ABSOLUTE, maxPerUser: 10 });
    const s = session('u1', Date.now());
    await kv.set(`${prefix}sess:s1`, JSON.stringify(s), { ttlMs: 10_000 });
    records.touch('s1', s);
    await waitFor(async () => (await redis.ttl(`${prefix}sess:s1`)) > 100);
    await redis.expire(`${prefix}sess:s1`, 50);
    records.touch('s1', s);
    await records.read('s1'); // one round trip later, a second renewal would have landed
    expect(await redis.ttl(`${prefix}sess:s1`)).toBeLessThanOrEqual(50);
  });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('condition never met');
}
