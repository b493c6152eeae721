import { createHash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Settings } from '../config/settings';
import { UpstreamError } from '../errors';
import { JSON_TYPE, type HttpAnswer } from '../upstream/http-answer';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { recordCacheResult } from '../observability/tracing';
import type { KeyValueStore } from '../redis/key-value-store';
import type { CachePolicy, EndpointSpec } from '../upstream/catalogue';
import { ErrorCode } from '../upstream/error-code';

/**
 * The response cache of the cacheable reads (program and ads). `serve` either
 * answers from the cache or calls `fetch` (once, whatever the concurrency)
 * and stores a successful answer. The answer carries `ETag` and
 * `Cache-Control`.
 */
export interface ResponseCache {
  serve(endpoint: EndpointSpec, input: Readonly<Record<string, unknown>>, scope: string, fetch: () => Promise<HttpAnswer>): Promise<HttpAnswer>;
  /** Empties the cache; returns how many entries were dropped. */
  purge(): Promise<number>;
}

/** One cached answer, as stored in Redis (JSON) with a TTL of fresh + stale. */
export interface CacheEntry {
  readonly body: string;
  /** Strong validator: a hash of the body, quoted. */
  readonly etag: string;
  /** Epoch ms. */
  readonly storedAt: number;
  readonly freshUntil: number;
  readonly staleUntil: number;
}

export interface ResponseCacheOptions {
  readonly settings: Settings;
  readonly store: KeyValueStore;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Epoch ms; tests inject their own clock. */
  readonly now?: () => number;
}

type Cached = Exclude<CachePolicy, 'none'>;

interface Policy {
  readonly freshMs: number;
  readonly staleMs: number;
  /** Answers a shared cache may keep (`public`) or only the user's browser (`private`). */
  readonly shared: boolean;
}

/** What one fill produced: a cacheable entry, or an answer that must not be cached. */
type Filled = { readonly entry: CacheEntry } | { readonly answer: HttpAnswer };

interface Target {
  readonly endpoint: string;
  readonly policy: Policy;
  /** `{partner/getprog|fr}`: the hash tag shared by the entry and its lock (one cluster slot). */
  readonly id: string;
  readonly entryKey: string;
  readonly lockKey: string;
  /** The fetch carries the caller's own credentials (ads): a refusal is theirs, not to be shared. */
  readonly personal: boolean;
}

/** How long the cache steps aside after Redis failed, so a stalled Redis costs one timeout, not one per request. */
const STEP_ASIDE_MS = 1000;
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 100;
/** Value of a lock left after a failed refresh: the other replicas do not retry the refresh before it expires. */
const BACKOFF_MARK = 'backoff:';

/** Strong ETag of a body: a SHA-256, so equal bodies (on every replica) have equal tags. */
export function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url')}"`;
}

/** Only a successful envelope is cached: never a refusal, a fault or a problem. */
export function isCacheable(answer: HttpAnswer): boolean {
  return answer.status === 200 && answer.errorCode === ErrorCode.Ok;
}

/**
 * The part of the key inside the hash tag: endpoint, language (`_` when the
 * upstream default applies), the endpoint's other fields when it has any (a
 * catalogue file may add some), and, for per-user ads, the user.
 */
export function cacheIdOf(path: string, lang: unknown, scope: string, others: Readonly<Record<string, unknown>> = {}): string {
  const langPart = typeof lang === 'string' && lang.length > 0 ? lang : '_';
  const names = Object.keys(others).filter((name) => name !== 'lang' && others[name] !== undefined).sort();
  const fieldPart = names.length ? `|f:${names.map((name) => `${encodeURIComponent(name)}=${encodeURIComponent(JSON.stringify(others[name]))}`).join('&')}` : '';
  return `{${path}|${langPart}${fieldPart}${scope ? `|u:${encodeURIComponent(scope)}` : ''}}`;
}

/** `Cache-Control` of a cached answer at `now`. */
export function cacheControlOf(entry: CacheEntry, shared: boolean, now: number): string {
  // Ads need a session: a browser may keep them but must revalidate each time, so that a
  // disconnected browser meets the 401 (a 304 costs no body). Shared caches never keep them.
  if (!shared) return 'private, no-cache';
  const fresh = Math.max(0, Math.ceil((entry.freshUntil - now) / 1000));
  const stale = Math.max(0, Math.ceil((entry.staleUntil - Math.max(now, entry.freshUntil)) / 1000));
  return `public, max-age=${fresh}, stale-while-revalidate=${stale}, stale-if-error=${stale}`;
}

function parseEntry(text: string | null): CacheEntry | undefined {
  if (text === null) return undefined;
  try {
    const e = JSON.parse(text) as Partial<CacheEntry>;
    if (typeof e.body === 'string' && typeof e.etag === 'string' && typeof e.freshUntil === 'number' && typeof e.staleUntil === 'number' && typeof e.storedAt === 'number') {
      return e as CacheEntry;
    }
  } catch {
    // A value this version cannot read is a miss; the next fill overwrites it.
  }
  return undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The response cache in Redis (or the in-process store), shared by every
 * replica:
 * - fresh entry → answered from the cache (`hit`);
 * - expired but within `CACHE_STALE_SECONDS` → answered at once (`stale`)
 *   while one refresh runs in the background (one per key across replicas:
 *   a Redis lock); a failed refresh backs off for a while, during which the
 *   stale entry keeps being answered (`error-stale`: stale-if-error);
 * - no entry → one upstream call per key however many requests arrive at
 *   once (`miss`): within a process they share one promise; across replicas
 *   the first takes a short lock (`SET NX PX`) and the others poll for its
 *   entry, up to the lock's life, then call the upstream themselves;
 * - Redis failing → the cache steps aside (`bypass`): calls go upstream
 *   (still one per key per process) and nothing fails because of the cache.
 *
 * Keys: `<prefix>cache:{<endpoint>|<lang>[|f:<other fields>][|u:<user>]}`; the lock is
 * `<prefix>cache-lock:{…}` with the same hash tag.
 *
 * @example
 * const cache = createResponseCache({ settings, store, metrics, logger });
 * const answer = await cache.serve(endpoint('partner/getprog'), { lang: 'fr' }, '', () => callUpstream());
 */
export function createResponseCache(options: ResponseCacheOptions): ResponseCache {
  const { settings, store, metrics, logger } = options;
  const clock = options.now ?? Date.now;
  const prefix = settings.redis.keyPrefix;
  const entryPrefix = `${prefix}cache:`;
  const lockPrefix = `${prefix}cache-lock:`;
  const purgedAtKey = `${prefix}cache-purged-at`;
  const staleMs = settings.cache.staleSeconds * 1000;
  const policies: Record<Cached, Policy> = {
    program: { freshMs: settings.cache.programTtlSeconds * 1000, staleMs, shared: true },
    ads: { freshMs: settings.cache.adsTtlSeconds * 1000, staleMs, shared: false },
  };
  // A read may be sent twice (one retry after a reset connection): the lock outlives both.
  const lockMs = 2 * settings.upstreamTimeoutMs + 1000;

  /** In-process single flight: one fill per key. */
  const fills = new Map<string, Promise<Filled>>();
  /** In-process: one background refresh per key. */
  const refreshes = new Set<string>();
  /** Keys whose last refresh failed, until when (stale-if-error without hammering the upstream). */
  const backoff = new LRUCache<string, number>({ max: 10_000 });
  let restingUntil = 0;
  let lastStoreWarning = 0;

  function count(target: Target, result: 'hit' | 'miss' | 'stale' | 'refresh' | 'error-stale' | 'bypass'): void {
    metrics.cacheResults.inc({ endpoint: target.endpoint, result });
    if (result !== 'refresh') recordCacheResult(target.endpoint, result);
  }

  function stepAside(err: unknown): void {
    const now = clock();
    restingUntil = now + STEP_ASIDE_MS;
    if (now - lastStoreWarning > 5000) {
      lastStoreWarning = now;
      logger.warn({ err: { message: (err as Error).message } }, 'response cache: Redis unavailable, answering from the upstream meanwhile');
    }
  }

  function entryOf(body: string, policy: Policy): CacheEntry {
    const now = clock();
    return { body, etag: etagOf(body), storedAt: now, freshUntil: now + policy.freshMs, staleUntil: now + policy.freshMs + policy.staleMs };
  }

  function answerOf(entry: CacheEntry, policy: Policy): HttpAnswer {
    return {
      status: 200,
      body: entry.body,
      contentType: JSON_TYPE,
      errorCode: ErrorCode.Ok,
      headers: { ETag: entry.etag, 'Cache-Control': cacheControlOf(entry, policy.shared, clock()) },
    };
  }

  function answerOfFilled(filled: Filled, policy: Policy): HttpAnswer {
    return 'entry' in filled ? answerOf(filled.entry, policy) : filled.answer;
  }

  /**
   * The last entry read per key, with the text it came from: an unchanged entry (every hit
   * until the next fill) is compared, not parsed again. Bounded: emptied past 1,000 keys.
   */
  const lastRead = new Map<string, { readonly text: string; readonly entry: CacheEntry }>();

  /**
   * Fresh entries this replica read from Redis, reused without a round trip until `until`
   * (CACHE_LOCAL_MS, never past their freshness): most hits cost no Redis round trip, at the price
   * of a purge on another replica reaching this one up to CACHE_LOCAL_MS late. Bounded like lastRead.
   */
  const nearby = new Map<string, { readonly entry: CacheEntry; readonly until: number }>();
  const localMs = settings.cache.localMs;
  function keepNearby(target: Target, entry: CacheEntry, now: number): void {
    if (localMs <= 0) return;
    if (nearby.size >= 1000) nearby.clear();
    nearby.set(target.entryKey, { entry, until: Math.min(now + localMs, entry.freshUntil) });
  }

  async function read(target: Target): Promise<CacheEntry | undefined> {
    const text = await store.get(target.entryKey);
    if (text === null) return undefined;
    const last = lastRead.get(target.entryKey);
    if (last !== undefined && last.text === text) return last.entry;
    const entry = parseEntry(text);
    if (entry !== undefined) {
      if (lastRead.size >= 1000) lastRead.clear();
      lastRead.set(target.entryKey, { text, entry });
    }
    return entry;
  }

  /** Stores an entry, unless a purge happened since its upstream call started (it may predate the purge). */
  async function write(target: Target, entry: CacheEntry, fetchStartedAt: number): Promise<void> {
    try {
      const purgedAt = Number(await store.get(purgedAtKey));
      if (purgedAt >= fetchStartedAt) return;
      await store.set(target.entryKey, JSON.stringify(entry), { ttlMs: target.policy.freshMs + target.policy.staleMs });
    } catch (err) {
      stepAside(err);
    }
  }

  async function fetchAndStore(target: Target, fetch: () => Promise<HttpAnswer>, useStore: boolean): Promise<Filled> {
    const startedAt = clock();
    const answer = await fetch();
    if (!isCacheable(answer)) return { answer };
    const entry = entryOf(answer.body, target.policy);
    if (useStore) await write(target, entry, startedAt);
    return { entry };
  }

  async function release(target: Target, token: string): Promise<void> {
    await store.deleteIfEquals(target.lockKey, token).catch(() => false);
  }

  /**
   * Another replica holds the lock: polls for its entry. Returns the entry,
   * `free` when the lock went without an entry (its answer was not
   * cacheable), or `gave-up` past the deadline.
   */
  async function awaitOtherReplica(target: Target, deadline: number): Promise<CacheEntry | 'free' | 'gave-up'> {
    let pause = FIRST_POLL_MS;
    while (clock() < deadline) {
      await sleep(pause);
      pause = Math.min(pause * 2, MAX_POLL_MS);
      const entry = await read(target);
      if (entry && clock() < entry.staleUntil) return entry;
      const lock = await store.get(target.lockKey);
      if (lock === null) return 'free';
      // A back-off mark after a failed refresh: nobody is fetching, and a cold key has nothing stale to give.
      if (lock.startsWith(BACKOFF_MARK)) return 'gave-up';
    }
    return 'gave-up';
  }

  /** A cold key: one upstream call across replicas, the others wait for its entry. */
  async function fill(target: Target, fetch: () => Promise<HttpAnswer>, useStore: boolean): Promise<Filled> {
    if (!useStore) return fetchAndStore(target, fetch, false);
    const token = randomBytes(12).toString('base64url');
    const deadline = clock() + lockMs;
    for (;;) {
      let locked: boolean;
      let waited: CacheEntry | 'free' | 'gave-up';
      try {
        locked = await store.set(target.lockKey, token, { ttlMs: lockMs, ifAbsent: true });
        if (locked) break;
        waited = await awaitOtherReplica(target, deadline);
      } catch (err) {
        stepAside(err);
        return fetchAndStore(target, fetch, false);
      }
      if (typeof waited === 'object') return { entry: waited };
      // Its holder gave no cacheable answer, or is too slow: call the upstream ourselves.
      if (waited === 'gave-up') return fetchAndStore(target, fetch, true);
    }
    try {
      // Another replica may have written its entry and released the lock between our read of the
      // entry and our taking of the lock: the entry is then there, and a second upstream call is not.
      const written = await read(target).catch(() => undefined);
      if (written && clock() < written.freshUntil) return { entry: written };
      return await fetchAndStore(target, fetch, true);
    } finally {
      await release(target, token);
    }
  }

  /** Joins the fill of this process for the key, or starts it. */
  async function miss(target: Target, fetch: () => Promise<HttpAnswer>, useStore: boolean): Promise<HttpAnswer> {
    const running = fills.get(target.id);
    if (running) return follow(running, target, fetch);
    const flight = fill(target, fetch, useStore).finally(() => fills.delete(target.id));
    fills.set(target.id, flight);
    return answerOfFilled(await flight, target.policy);
  }

  /**
   * A request that waited on another's fill. An upstream fault is shared (the
   * upstream is failing for everyone); a refusal of the leader's own session
   * (ads: errorCode 3…) is not: then this caller asks with its own.
   */
  async function follow(flight: Promise<Filled>, target: Target, fetch: () => Promise<HttpAnswer>): Promise<HttpAnswer> {
    let filled: Filled;
    try {
      filled = await flight;
    } catch (err) {
      if (target.personal && !(err instanceof UpstreamError)) return decorate(await fetch(), target.policy);
      throw err;
    }
    if ('entry' in filled) return answerOf(filled.entry, target.policy);
    return target.personal ? decorate(await fetch(), target.policy) : filled.answer;
  }

  function decorate(answer: HttpAnswer, policy: Policy): HttpAnswer {
    return isCacheable(answer) ? answerOf(entryOf(answer.body, policy), policy) : answer;
  }

  /** Stale-while-revalidate: one refresh per key at a time, across replicas; the caller does not wait. */
  function refreshInBackground(target: Target, fetch: () => Promise<HttpAnswer>): void {
    if (refreshes.has(target.id)) return;
    refreshes.add(target.id);
    const token = randomBytes(12).toString('base64url');
    const run = async (): Promise<void> => {
      let locked = false;
      try {
        locked = await store.set(target.lockKey, token, { ttlMs: lockMs, ifAbsent: true });
      } catch (err) {
        stepAside(err);
        return;
      }
      if (!locked) return; // another replica refreshes (or backs off after a failed refresh)
      count(target, 'refresh');
      try {
        const filled = await fetchAndStore(target, fetch, true);
        if (!('entry' in filled)) throw new Error(`refresh answered ${filled.answer.status} (errorCode ${String(filled.answer.errorCode)}), not cacheable`);
        backoff.delete(target.id);
        await release(target, token);
      } catch (err) {
        // Stale-if-error: keep answering the stale entry; the lock, left to expire after the
        // back-off, keeps the other replicas from retrying at once too.
        const backoffMs = Math.max(250, Math.min(target.policy.freshMs, 5000));
        backoff.set(target.id, clock() + backoffMs, { ttl: backoffMs });
        await store.set(target.lockKey, `${BACKOFF_MARK}${token}`, { ttlMs: backoffMs }).catch(() => false);
        logger.warn({ endpoint: target.endpoint, err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'response cache: refresh failed; answering the stale entry');
      }
    };
    run()
      .catch((err: unknown) => logger.error({ endpoint: target.endpoint, err }, 'response cache: refresh crashed'))
      .finally(() => refreshes.delete(target.id));
  }

  function targetOf(endpoint: EndpointSpec, input: Readonly<Record<string, unknown>>, scope: string): Target | undefined {
    if (endpoint.cache === 'none') return undefined;
    const policy = policies[endpoint.cache];
    const id = cacheIdOf(endpoint.path, input.lang, scope, input);
    return { endpoint: endpoint.path, policy, id, entryKey: `${entryPrefix}${id}`, lockKey: `${lockPrefix}${id}`, personal: endpoint.token === 'user' };
  }

  return {
    async serve(endpoint, input, scope, fetch) {
      const target = targetOf(endpoint, input, scope);
      // A freshness of 0 turns the cache off for that policy.
      if (!target || target.policy.freshMs <= 0) return fetch();
      const near = nearby.get(target.entryKey);
      if (near !== undefined) {
        if (clock() < near.until) {
          count(target, 'hit');
          return answerOf(near.entry, target.policy);
        }
        nearby.delete(target.entryKey);
      }
      if (clock() < restingUntil) {
        count(target, 'bypass');
        return miss(target, fetch, false);
      }
      let entry: CacheEntry | undefined;
      try {
        entry = await read(target);
      } catch (err) {
        stepAside(err);
        count(target, 'bypass');
        return miss(target, fetch, false);
      }
      const now = clock();
      if (entry && now < entry.freshUntil) {
        count(target, 'hit');
        keepNearby(target, entry, now);
        return answerOf(entry, target.policy);
      }
      if (entry && now < entry.staleUntil) {
        const failedUntil = backoff.get(target.id);
        if (failedUntil !== undefined && now < failedUntil) {
          count(target, 'error-stale');
        } else {
          count(target, 'stale');
          refreshInBackground(target, fetch);
        }
        return answerOf(entry, target.policy);
      }
      count(target, 'miss');
      return miss(target, fetch, true);
    },

    async purge() {
      // Fills in flight may hold answers older than this purge: they see the mark and do not store.
      await store.set(purgedAtKey, String(clock()), { ttlMs: 2 * lockMs });
      backoff.clear();
      nearby.clear();
      return store.deleteByPrefix(entryPrefix);
    },
  };
}
