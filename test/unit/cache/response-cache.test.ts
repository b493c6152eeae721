import { cacheControlOf, cacheIdOf, createResponseCache, etagOf, isCacheable } from '../../../src/cache/response-cache';
import { loadSettings } from '../../../src/config/load';
import { SessionStoreUnavailable, UpstreamTimeout } from '../../../src/errors';
import { JSON_TYPE, type HttpAnswer } from '../../../src/upstream/http-answer';
import { createLogger } from '../../../src/observability/logger';
import { createMetrics, type Metrics } from '../../../src/observability/metrics';
import type { KeyValueStore } from '../../../src/redis/key-value-store';
import { createMemoryStore } from '../../../src/redis/memory-store';
import { endpoint } from '../../../src/upstream/catalogue';

const getprog = endpoint('partner/getprog');
const adsNews = endpoint('ad/news');
const logger = createLogger({ level: 'silent' });

const ok = (body = '{"errorCode":0,"errorMsg":"ok","data":{"n":1}}'): HttpAnswer => ({ status: 200, body, contentType: JSON_TYPE, errorCode: 0 });
const refused: HttpAnswer = { status: 400, body: '{"errorCode":2,"errorMsg":"bad"}', contentType: JSON_TYPE, errorCode: 2 };

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function metric(metrics: Metrics, result: string, path = 'partner/getprog'): Promise<number> {
  const { values } = await metrics.cacheResults.get();
  return values.find((v) => v.labels.result === result && v.labels.endpoint === path)?.value ?? 0;
}

function setup(env: Record<string, string> = {}, store: KeyValueStore = createMemoryStore()) {
  const settings = loadSettings({ NODE_ENV: 'test', CACHE_TTL_GETPROG_SECONDS: '10', CACHE_TTL_ADS_SECONDS: '5', CACHE_STALE_SECONDS: '100', ...env });
  const clock = { t: 1_000_000 };
  const metrics = createMetrics();
  const cache = createResponseCache({ settings, store, metrics, logger, now: () => clock.t });
  return { settings, clock, metrics, cache, store };
}

describe('response cache: pure parts', () => {
  it('keys by endpoint and language, `_` for the upstream default, and the user for per-user ads', () => {
    expect(cacheIdOf('partner/getprog', 'fr', '')).toBe('{partner/getprog|fr}');
    expect(cacheIdOf('partner/getprog', undefined, '')).toBe('{partner/getprog|_}');
    // A user id cannot break out of the hash tag.
    expect(cacheIdOf('ad/news', 'en', 'a}b{c|d')).toBe('{ad/news|en|u:a%7Db%7Bc%7Cd}');
  });

  it('keys by the other fields a catalogue file may add, in name order, the language-only keys unchanged', () => {
    expect(cacheIdOf('partner/getprog', 'fr', '', { lang: 'fr' })).toBe('{partner/getprog|fr}');
    expect(cacheIdOf('partner/getprog', 'fr', '', { lang: 'fr', region: 'idf', country: 'FR', absent: undefined })).toBe(
      '{partner/getprog|fr|f:country=%22FR%22&region=%22idf%22}',
    );
    expect(cacheIdOf('partner/getprog', 'fr', '', { country: 'FR' })).not.toBe(cacheIdOf('partner/getprog', 'fr', '', { country: 'BE' }));
    expect(cacheIdOf('partner/getprog', 'fr', '', { n: 1 })).not.toBe(cacheIdOf('partner/getprog', 'fr', '', { n: '1' }));
    // A field value cannot break out of the hash tag either.
    expect(cacheIdOf('ad/news', 'en', 'u1', { tag: '}{|' })).toBe('{ad/news|en|f:tag=%22%7D%7B%7C%22|u:u1}');
  });

  it('gives a strong ETag per body', () => {
    expect(etagOf('x')).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect(etagOf('x')).toBe(etagOf('x'));
    expect(etagOf('x')).not.toBe(etagOf('y'));
  });

  it('caches only a 200 with errorCode 0', () => {
    expect(isCacheable(ok())).toBe(true);
    expect(isCacheable(refused)).toBe(false);
    expect(isCacheable({ ...ok(), errorCode: undefined })).toBe(false);
    expect(isCacheable({ ...ok(), status: 502 })).toBe(false);
  });

  it('says public with the remaining freshness for the program, private and revalidated for ads', () => {
    const entry = { body: '', etag: '"e"', storedAt: 0, freshUntil: 10_000, staleUntil: 110_000 };
    expect(cacheControlOf(entry, true, 2_500)).toBe('public, max-age=8, stale-while-revalidate=100, stale-if-error=100');
    expect(cacheControlOf(entry, true, 20_000)).toBe('public, max-age=0, stale-while-revalidate=90, stale-if-error=90');
    expect(cacheControlOf(entry, false, 2_500)).toBe('private, no-cache');
  });
});

/** A store that counts the reads of one key. */
function countingStore(): { store: KeyValueStore; reads: () => number } {
  const inner = createMemoryStore();
  let n = 0;
  const store: KeyValueStore = Object.create(inner) as KeyValueStore;
  store.get = (key: string) => {
    if (key.includes('cache:{')) n++;
    return inner.get(key);
  };
  return { store, reads: () => n };
}

describe('response cache: fresh entries reused in process (CACHE_LOCAL_MS)', () => {
  it('a hit within CACHE_LOCAL_MS of a read reads nothing from the store; later it reads again', async () => {
    const { store, reads } = countingStore();
    const { cache, clock, metrics } = setup({ CACHE_LOCAL_MS: '1000' }, store);
    const fetch = jest.fn(async () => ok());
    await cache.serve(getprog, { lang: 'fr' }, '', fetch); // miss, stored
    await cache.serve(getprog, { lang: 'fr' }, '', fetch); // hit, read from the store
    const afterFirstHit = reads();
    for (let i = 0; i < 5; i++) {
      clock.t += 150;
      const hit = await cache.serve(getprog, { lang: 'fr' }, '', fetch);
      expect(hit.headers?.ETag).toBe(etagOf(ok().body));
      // The remaining freshness is still counted from the stored entry.
      expect(hit.headers?.['Cache-Control']).toMatch(/^public, max-age=(10|9),/);
    }
    expect(reads()).toBe(afterFirstHit);
    clock.t += 300;
    await cache.serve(getprog, { lang: 'fr' }, '', fetch);
    expect(reads()).toBe(afterFirstHit + 1);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(await metric(metrics, 'hit')).toBe(7);
  });

  it('never reuses an entry past its freshness', async () => {
    const { store, reads } = countingStore();
    const { cache, clock } = setup({ CACHE_LOCAL_MS: '10000', CACHE_TTL_GETPROG_SECONDS: '2' }, store);
    const fetch = jest.fn(async () => ok());
    await cache.serve(getprog, {}, '', fetch);
    await cache.serve(getprog, {}, '', fetch);
    const before = reads();
    clock.t += 2_500; // past freshness: stale, refreshed in the background
    await cache.serve(getprog, {}, '', fetch);
    expect(reads()).toBe(before + 1);
  });

  it('a purge on this replica takes effect at once; 0 turns the reuse off', async () => {
    const { store, reads } = countingStore();
    const { cache } = setup({ CACHE_LOCAL_MS: '1000' }, store);
    const fetch = jest.fn(async () => ok());
    await cache.serve(getprog, {}, '', fetch);
    await cache.serve(getprog, {}, '', fetch);
    await cache.purge();
    await cache.serve(getprog, {}, '', fetch);
    expect(fetch).toHaveBeenCalledTimes(2);

    const off = countingStore();
    const { cache: direct } = setup({ CACHE_LOCAL_MS: '0' }, off.store);
    await direct.serve(getprog, {}, '', fetch);
    const base = off.reads();
    for (let i = 0; i < 3; i++) await direct.serve(getprog, {}, '', fetch);
    expect(off.reads()).toBe(base + 3);
    expect(reads()).toBeGreaterThan(0);
  });
});

describe('response cache over the in-process store', () => {
  it('answers a hit from the cache, with ETag and Cache-Control', async () => {
    const { cache, metrics } = setup();
    const fetch = jest.fn(async () => ok());
    const first = await cache.serve(getprog, { lang: 'fr' }, '', fetch);
    const second = await cache.serve(getprog, { lang: 'fr' }, '', fetch);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(second.body).toBe(first.body);
    expect(second.headers?.ETag).toBe(etagOf(first.body));
    expect(second.headers?.['Cache-Control']).toMatch(/^public, max-age=10,/);
    expect(await metric(metrics, 'miss')).toBe(1);
    expect(await metric(metrics, 'hit')).toBe(1);
  });

  it('keeps languages apart', async () => {
    const { cache } = setup();
    const fetch = jest.fn(async () => ok());
    await cache.serve(getprog, { lang: 'fr' }, '', fetch);
    await cache.serve(getprog, { lang: 'en' }, '', fetch);
    await cache.serve(getprog, {}, '', fetch);
    await cache.serve(getprog, {}, '', fetch);
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  it('never stores a refusal', async () => {
    const { cache } = setup();
    const fetch = jest.fn(async () => refused);
    expect(await cache.serve(getprog, {}, '', fetch)).toBe(refused);
    expect(await cache.serve(getprog, {}, '', fetch)).toBe(refused);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('makes one upstream call for many concurrent requests of a cold key', async () => {
    const { cache } = setup();
    const gate = deferred<HttpAnswer>();
    const fetch = jest.fn(() => gate.promise);
    const all = Promise.all(Array.from({ length: 25 }, () => cache.serve(getprog, { lang: 'fr' }, '', fetch)));
    await new Promise((r) => setTimeout(r, 20));
    gate.resolve(ok());
    const answers = await all;
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
  });

  it('shares an upstream fault of a cold key with the waiting requests', async () => {
    const { cache } = setup();
    const gate = deferred<HttpAnswer>();
    const fetch = jest.fn(() => gate.promise);
    const all = Promise.allSettled(Array.from({ length: 5 }, () => cache.serve(getprog, {}, '', fetch)));
    gate.reject(new UpstreamTimeout('slow', 'partner/getprog'));
    const results = await all;
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('ads: a refusal of the first caller is not shared; each caller asks with its own session', async () => {
    const { cache } = setup();
    const gate = deferred<HttpAnswer>();
    const leader = jest.fn(() => gate.promise);
    const follower = jest.fn(async () => ok('{"errorCode":0,"errorMsg":"ok","data":{"ads":[]}}'));
    const first = cache.serve(adsNews, {}, '', leader);
    const second = cache.serve(adsNews, {}, '', follower);
    gate.resolve({ status: 401, body: '{"errorCode":3}', contentType: JSON_TYPE, errorCode: 3 });
    expect((await first).status).toBe(401);
    expect((await second).status).toBe(200);
    expect(follower).toHaveBeenCalledTimes(1);
  });

  it('stale-while-revalidate: answers the expired entry at once, with one refresh in the background', async () => {
    const { cache, clock, metrics } = setup();
    await cache.serve(getprog, {}, '', async () => ok('{"errorCode":0,"errorMsg":"ok","data":{"v":1}}'));
    clock.t += 11_000;
    const gate = deferred<HttpAnswer>();
    const refresh = jest.fn(() => gate.promise);
    const stale = await Promise.all(Array.from({ length: 5 }, () => cache.serve(getprog, {}, '', refresh)));
    // Answered while the refresh is still waiting on the upstream.
    expect(stale.every((a) => a.body.includes('"v":1'))).toBe(true);
    expect(stale[0]!.headers?.['Cache-Control']).toMatch(/^public, max-age=0,/);
    expect(refresh).toHaveBeenCalledTimes(1);
    gate.resolve(ok('{"errorCode":0,"errorMsg":"ok","data":{"v":2}}'));
    // The refresh lands in the background; meanwhile and after, nothing else reaches the upstream.
    const unused = jest.fn(async () => ok());
    let latest = await cache.serve(getprog, {}, '', unused);
    for (let i = 0; i < 200 && !latest.body.includes('"v":2'); i += 1) {
      await new Promise((r) => setTimeout(r, 5));
      latest = await cache.serve(getprog, {}, '', unused);
    }
    expect(latest.body).toContain('"v":2');
    expect(latest.headers?.['Cache-Control']).toMatch(/^public, max-age=10,/);
    expect(unused).not.toHaveBeenCalled();
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(await metric(metrics, 'refresh')).toBe(1);
  });

  it('stale-if-error: keeps answering the stale entry while the refresh fails, and backs off', async () => {
    const { cache, clock, metrics } = setup();
    await cache.serve(getprog, {}, '', async () => ok('{"errorCode":0,"errorMsg":"ok","data":{"v":1}}'));
    clock.t += 11_000;
    const failing = jest.fn(async (): Promise<HttpAnswer> => {
      throw new UpstreamTimeout('slow', 'partner/getprog');
    });
    let answer = await cache.serve(getprog, {}, '', failing);
    expect(answer.body).toContain('"v":1');
    // Until the failed refresh has set its back-off, further requests see it running; then they see the back-off.
    for (let i = 0; i < 200 && (await metric(metrics, 'error-stale')) === 0; i += 1) {
      await new Promise((r) => setTimeout(r, 5));
      answer = await cache.serve(getprog, {}, '', failing);
      expect(answer.status).toBe(200);
      expect(answer.body).toContain('"v":1');
    }
    expect(await metric(metrics, 'error-stale')).toBeGreaterThanOrEqual(1);
    expect(failing).toHaveBeenCalledTimes(1);
  });

  it('past the stale window, an entry is a miss', async () => {
    const { cache, clock } = setup();
    await cache.serve(getprog, {}, '', async () => ok());
    clock.t += 111_000;
    const fetch = jest.fn(async () => ok());
    await cache.serve(getprog, {}, '', fetch);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('across replicas: the second waits for the entry the first is fetching', async () => {
    const store = createMemoryStore();
    const a = setup({}, store);
    const b = setup({}, store);
    const gate = deferred<HttpAnswer>();
    const fetchA = jest.fn(() => gate.promise);
    const fetchB = jest.fn(async () => ok('{"errorCode":0,"errorMsg":"ok","data":{"from":"b"}}'));
    const fromA = a.cache.serve(getprog, {}, '', fetchA);
    await new Promise((r) => setTimeout(r, 5));
    const fromB = b.cache.serve(getprog, {}, '', fetchB);
    await new Promise((r) => setTimeout(r, 30));
    gate.resolve(ok('{"errorCode":0,"errorMsg":"ok","data":{"from":"a"}}'));
    expect((await fromA).body).toContain('"from":"a"');
    expect((await fromB).body).toContain('"from":"a"');
    expect(fetchB).not.toHaveBeenCalled();
  });

  it('across replicas: when the first gets nothing cacheable, the waiting one asks itself', async () => {
    const store = createMemoryStore();
    const a = setup({}, store);
    const b = setup({}, store);
    const gate = deferred<HttpAnswer>();
    const fetchB = jest.fn(async () => ok());
    const fromA = a.cache.serve(getprog, {}, '', () => gate.promise);
    await new Promise((r) => setTimeout(r, 5));
    const fromB = b.cache.serve(getprog, {}, '', fetchB);
    await new Promise((r) => setTimeout(r, 20));
    gate.resolve(refused);
    expect((await fromA).status).toBe(400);
    expect((await fromB).status).toBe(200);
    expect(fetchB).toHaveBeenCalledTimes(1);
  });

  it('across replicas: an entry written between the waiting one\'s read of it and its taking of the lock is used, not fetched again', async () => {
    const store = createMemoryStore();
    const a = setup({}, store);
    const aDone = deferred<void>();
    const bReadNothing = deferred<void>();
    let entryReadsOfB = 0;
    // B's second read of the entry (its first poll) finds nothing, and its answer arrives only after A
    // has written the entry and released the lock: the interleaving two replicas can meet by chance.
    const storeOfB: KeyValueStore = {
      ...store,
      get: async (key) => {
        const value = await store.get(key);
        if (key.includes(':cache:{') && value === null && ++entryReadsOfB === 2) {
          bReadNothing.resolve();
          await aDone.promise;
        }
        return value;
      },
    };
    const b = setup({}, storeOfB);
    const gate = deferred<HttpAnswer>();
    const fromA = a.cache.serve(getprog, {}, '', () => gate.promise);
    await new Promise((r) => setTimeout(r, 5));
    const fetchB = jest.fn(async () => ok('{"errorCode":0,"errorMsg":"ok","data":{"from":"b"}}'));
    const fromB = b.cache.serve(getprog, {}, '', fetchB);
    await bReadNothing.promise;
    gate.resolve(ok('{"errorCode":0,"errorMsg":"ok","data":{"from":"a"}}'));
    expect((await fromA).body).toContain('"from":"a"');
    aDone.resolve();
    expect((await fromB).body).toContain('"from":"a"');
    expect(fetchB).not.toHaveBeenCalled();
  });

  it('per-user scope keeps users apart', async () => {
    const { cache } = setup();
    const fetch = jest.fn(async () => ok());
    await cache.serve(adsNews, {}, 'alice', fetch);
    await cache.serve(adsNews, {}, 'alice', fetch);
    await cache.serve(adsNews, {}, 'bob', fetch);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect((await cache.serve(adsNews, {}, 'bob', fetch)).headers?.['Cache-Control']).toBe('private, no-cache');
  });

  it('purge drops every entry, and an answer fetched before the purge is not stored after it', async () => {
    const { cache } = setup();
    await cache.serve(getprog, { lang: 'fr' }, '', async () => ok());
    await cache.serve(getprog, { lang: 'en' }, '', async () => ok());
    const gate = deferred<HttpAnswer>();
    const inFlight = cache.serve(getprog, { lang: 'de' }, '', () => gate.promise);
    expect(await cache.purge()).toBe(2);
    gate.resolve(ok());
    expect((await inFlight).status).toBe(200);
    const fetch = jest.fn(async () => ok());
    await cache.serve(getprog, { lang: 'de' }, '', fetch);
    await cache.serve(getprog, { lang: 'fr' }, '', fetch);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('a freshness of 0 turns the cache off for that policy', async () => {
    const { cache } = setup({ CACHE_TTL_GETPROG_SECONDS: '0' });
    const fetch = jest.fn(async () => ok());
    await cache.serve(getprog, {}, '', fetch);
    await cache.serve(getprog, {}, '', fetch);
    expect(fetch).toHaveBeenCalledTimes(2);
  });
});

describe('response cache when the store fails', () => {
  function failingStore(): KeyValueStore & { calls: number } {
    const base = createMemoryStore();
    const fail = async (): Promise<never> => {
      store.calls += 1;
      throw new SessionStoreUnavailable('Redis is not connected (get)');
    };
    const store = { ...base, calls: 0, get: fail, set: fail, deleteIfEquals: fail };
    return store;
  }

  it('steps aside: answers from the upstream, then skips the store for a while', async () => {
    const store = failingStore();
    const { cache, metrics } = setup({}, store);
    const fetch = jest.fn(async () => ok());
    expect((await cache.serve(getprog, {}, '', fetch)).status).toBe(200);
    const callsAfterFirst = store.calls;
    expect((await cache.serve(getprog, {}, '', fetch)).status).toBe(200);
    expect(store.calls).toBe(callsAfterFirst);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(await metric(metrics, 'bypass')).toBe(2);
  });
});
