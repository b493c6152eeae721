import type { Metrics } from '../../src/observability/metrics';
import type { Sandbox } from '../../src/sandbox';
import { ApiClient } from '../helpers/http';
import { startTestService, type TestService, startReplicaPair, type ReplicaPair } from '../helpers/service';

/** Each language a test uses as a cache key of its own is one of the program's. */
const LANGUAGES = { PROGRAM_LANGUAGES: 'fr,en,de,es,it,pt' };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function cacheCount(metrics: Metrics, result: string, endpoint = 'partner/getprog'): Promise<number> {
  const { values } = await metrics.cacheResults.get();
  return values.filter((v) => v.labels.result === result && v.labels.endpoint === endpoint).reduce((n, v) => n + v.value, 0);
}

/** Polls until `cond` holds (bounded); for effects that land in the background. */
async function eventually(cond: () => boolean | Promise<boolean>, what: string, attempts = 400): Promise<void> {
  for (let i = 0; i < attempts; i += 1) {
    if (await cond()) return;
    await sleep(25);
  }
  throw new Error(`never happened: ${what}`);
}

describe('response cache: program', () => {
  let svc: TestService;
  const api = (): ApiClient => new ApiClient(svc.url);
  beforeAll(async () => {
    svc = await startTestService({ env: LANGUAGES });
  });
  afterAll(async () => {
    await svc.close();
  });
  afterEach(() => svc.sandbox.clearFaults());

  it('40 concurrent requests for a cold key cost one upstream call', async () => {
    const before = svc.sandbox.callCount('partner/getprog');
    // A slow upstream keeps the key cold while all 40 arrive.
    svc.sandbox.injectFault({ path: 'partner/getprog', kind: 'delay', ms: 300, times: 1 });
    const answers = await Promise.all(Array.from({ length: 40 }, () => api().get('/api/partner/getprog?lang=fr')));
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
    expect(new Set(answers.map((a) => a.text)).size).toBe(1);
    expect(answers[0]!.json.data.program.name).toBe('Récompenses démo');
    expect(svc.sandbox.callCount('partner/getprog') - before).toBe(1);
  });

  it('answers with a strong ETag and public Cache-Control, and 304 to a matching If-None-Match', async () => {
    const first = await api().get('/api/partner/getprog?lang=en');
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(first.headers.get('cache-control')).toMatch(/^public, max-age=\d+, stale-while-revalidate=\d+, stale-if-error=\d+$/);
    const before = svc.sandbox.callCount('partner/getprog');

    const revalidated = await api().get('/api/partner/getprog?lang=en', { headers: { 'If-None-Match': etag } });
    expect(revalidated.status).toBe(304);
    expect(revalidated.text).toBe('');
    expect(revalidated.headers.get('etag')).toBe(etag);

    const listed = await api().get('/api/partner/getprog?lang=en', { headers: { 'If-None-Match': `"other", ${etag}` } });
    expect(listed.status).toBe(304);
    const other = await api().get('/api/partner/getprog?lang=en', { headers: { 'If-None-Match': '"other"' } });
    expect(other.status).toBe(200);
    expect(other.text).toBe(first.text);
    // POST is answered from the cache too, never with a 304.
    const posted = await api().post('/api/partner/getprog', { lang: 'en' }, { headers: { 'If-None-Match': etag } });
    expect(posted.status).toBe(200);
    expect(posted.headers.get('etag')).toBe(etag);
    expect(svc.sandbox.callCount('partner/getprog')).toBe(before);
  });

  it('keys by language: no lang is its own entry', async () => {
    const before = svc.sandbox.callCount('partner/getprog');
    await api().get('/api/partner/getprog');
    await api().get('/api/partner/getprog');
    await api().get('/api/partner/getprog?lang=it');
    expect(svc.sandbox.callCount('partner/getprog') - before).toBe(2);
  });

  it('does not cache a failure: a cold key whose upstream fails answers 502, the next one goes upstream again', async () => {
    svc.sandbox.injectFault({ path: 'partner/getprog', kind: 'status', status: 503, times: 1 });
    const before = svc.sandbox.callCount('partner/getprog');
    const failed = await api().get('/api/partner/getprog?lang=es');
    expect(failed.status).toBe(502);
    expect(failed.headers.get('etag')).toBeNull();
    const ok = await api().get('/api/partner/getprog?lang=es');
    expect(ok.status).toBe(200);
    expect(svc.sandbox.callCount('partner/getprog') - before).toBe(2);
  });

  it('purge empties the cache (from the app and on POST /internal/cache/purge)', async () => {
    await api().get('/api/partner/getprog?lang=pt');
    expect(await svc.app.cache.purge()).toBeGreaterThanOrEqual(1);
    const before = svc.sandbox.callCount('partner/getprog');
    await api().get('/api/partner/getprog?lang=pt');
    expect(svc.sandbox.callCount('partner/getprog') - before).toBe(1);
    await api().get('/api/partner/getprog?lang=pt');
    expect(svc.sandbox.callCount('partner/getprog') - before).toBe(1);
    expect(await cacheCount(svc.app.metrics, 'hit')).toBeGreaterThan(0);
    expect(await cacheCount(svc.app.metrics, 'miss')).toBeGreaterThan(0);
  });
});

describe('response cache: purge on the internal listener', () => {
  const apiKey = 'ops:cache-purge-key-0123456789abcdef';
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { ...LANGUAGES, INTERNAL_API_KEYS: apiKey } });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('POST /internal/cache/purge answers {purged: n} and the next request goes upstream', async () => {
    await new ApiClient(svc.url).get('/api/partner/getprog?lang=fr');
    await new ApiClient(svc.url).get('/api/partner/getprog?lang=en');
    const res = await fetch(`${svc.internalUrl}/internal/cache/purge`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${apiKey.slice(4)}`, 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ purged: 2 });
    const before = svc.sandbox.callCount('partner/getprog');
    await new ApiClient(svc.url).get('/api/partner/getprog?lang=fr');
    expect(svc.sandbox.callCount('partner/getprog') - before).toBe(1);
  });
});

describe('response cache: two replicas', () => {
  let sandbox: Sandbox;
  let a: TestService;
  let b: TestService;
  let pair: ReplicaPair;
  beforeAll(async () => {
    pair = await startReplicaPair({ label: 'cache2' });
    ({ sandbox, a, b } = pair);
  });
  afterAll(() => pair.close());

  it('40 concurrent requests for a cold key, spread over two replicas, cost one upstream call', async () => {
    sandbox.injectFault({ path: 'partner/getprog', kind: 'delay', ms: 300, times: 1 });
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => new ApiClient((i % 2 ? a : b).url).get('/api/partner/getprog?lang=fr')));
    expect(answers.map((r) => r.status)).toEqual(Array(40).fill(200));
    expect(new Set(answers.map((r) => r.text)).size).toBe(1);
    expect(new Set(answers.map((r) => r.headers.get('etag'))).size).toBe(1);
    expect(sandbox.callCount('partner/getprog')).toBe(1);
  });

  it('an entry stored by one replica is a hit on the other, and a purge on one empties both within CACHE_LOCAL_MS', async () => {
    await new ApiClient(a.url).get('/api/partner/getprog?lang=en');
    const before = sandbox.callCount('partner/getprog');
    await new ApiClient(b.url).get('/api/partner/getprog?lang=en');
    expect(sandbox.callCount('partner/getprog')).toBe(before);
    await a.app.cache.purge();
    // b may reuse the entry it read for up to CACHE_LOCAL_MS (1 s by default), never longer: once
    // that has passed, its next request is a miss, and one upstream call refills the entry.
    await new Promise((resolve) => setTimeout(resolve, b.app.settings.cache.localMs + 100));
    expect((await new ApiClient(b.url).get('/api/partner/getprog?lang=en')).status).toBe(200);
    expect(sandbox.callCount('partner/getprog')).toBe(before + 1);
    expect((await new ApiClient(a.url).get('/api/partner/getprog?lang=en')).status).toBe(200);
    expect(sandbox.callCount('partner/getprog')).toBe(before + 1);
  });
});

describe('response cache: stale entries', () => {
  let svc: TestService;
  const api = (): ApiClient => new ApiClient(svc.url);
  beforeAll(async () => {
    svc = await startTestService({ env: { ...LANGUAGES, CACHE_TTL_GETPROG_SECONDS: '1', APM_TIMEOUT_MS: '15000' } });
  });
  afterAll(async () => {
    await svc.close();
  });
  afterEach(() => svc.sandbox.clearFaults());

  it('stale-while-revalidate: an expired entry is answered at once while one refresh runs', async () => {
    const primed = await api().get('/api/partner/getprog?lang=fr');
    const before = svc.sandbox.callCount('partner/getprog');
    await sleep(1100);
    // The refresh waits 2 s upstream. The sandbox records a call when it answers, so a count
    // still unchanged after the stale answers proves they did not wait for the refresh.
    svc.sandbox.injectFault({ path: 'partner/getprog', kind: 'delay', ms: 2000, times: 1 });
    const stale = await Promise.all(Array.from({ length: 8 }, () => api().get('/api/partner/getprog?lang=fr')));
    expect(stale.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(stale.every((r) => r.text === primed.text)).toBe(true);
    expect(stale[0]!.headers.get('cache-control')).toMatch(/^public, max-age=0,/);
    expect(svc.sandbox.callCount('partner/getprog')).toBe(before);
    await eventually(() => svc.sandbox.callCount('partner/getprog') === before + 1, 'the refresh reached the upstream');
    await eventually(async () => (await cacheCount(svc.app.metrics, 'refresh')) === 1, 'one refresh counted');
    expect(await cacheCount(svc.app.metrics, 'stale')).toBeGreaterThanOrEqual(8);
  });

  it('stale-if-error: while the upstream fails, the stale entry is answered', async () => {
    const primed = await api().get('/api/partner/getprog?lang=en');
    expect(primed.status).toBe(200);
    const before = svc.sandbox.callCount('partner/getprog');
    await sleep(1100);
    svc.sandbox.injectFault({ path: 'partner/getprog', kind: 'status', status: 503 });
    const first = await api().get('/api/partner/getprog?lang=en');
    expect([first.status, first.text]).toEqual([200, primed.text]);
    await eventually(() => svc.sandbox.callCount('partner/getprog') > before, 'the failed refresh reached the upstream');
    for (let i = 0; i < 5; i += 1) {
      const again = await api().get('/api/partner/getprog?lang=en');
      expect([again.status, again.text]).toEqual([200, primed.text]);
    }
  });

  it('stale-if-error: also while the upstream times out', async () => {
    const timing = await startTestService({ env: { ...LANGUAGES, CACHE_TTL_GETPROG_SECONDS: '1', APM_TIMEOUT_MS: '300' } });
    try {
      const primed = await new ApiClient(timing.url).get('/api/partner/getprog?lang=fr');
      await sleep(1100);
      timing.sandbox.injectFault({ path: 'partner/getprog', kind: 'delay', ms: 5000 });
      for (let i = 0; i < 3; i += 1) {
        const res = await new ApiClient(timing.url).get('/api/partner/getprog?lang=fr');
        expect([res.status, res.text]).toEqual([200, primed.text]);
        await sleep(200);
      }
      // A cold key has nothing stale to give: the timeout is the answer.
      expect((await new ApiClient(timing.url).get('/api/partner/getprog?lang=de')).status).toBe(504);
    } finally {
      timing.sandbox.clearFaults();
      await timing.close();
    }
  });
});

describe('response cache: ads', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: LANGUAGES });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('are shared by all users (CACHE_SCOPE_ADS=global), private to browsers, and still need a session', async () => {
    const alice = new ApiClient(svc.url);
    const bob = new ApiClient(svc.url);
    await alice.connect('cache-ads-alice');
    await bob.connect('cache-ads-bob');
    const before = svc.sandbox.callCount('ad/news');
    const fromAlice = await alice.get('/api/ad/news?lang=fr');
    const fromBob = await bob.get('/api/ad/news?lang=fr');
    expect([fromAlice.status, fromBob.status]).toEqual([200, 200]);
    expect(fromBob.text).toBe(fromAlice.text);
    expect(fromAlice.headers.get('cache-control')).toBe('private, no-cache');
    expect(svc.sandbox.callCount('ad/news') - before).toBe(1);
    // Cached, but not for a visitor without a session.
    expect((await new ApiClient(svc.url).get('/api/ad/news?lang=fr')).status).toBe(401);
    const etag = fromAlice.headers.get('etag')!;
    expect((await alice.get('/api/ad/news?lang=fr', { headers: { 'If-None-Match': etag } })).status).toBe(304);
    expect((await new ApiClient(svc.url).get('/api/ad/news?lang=fr', { headers: { 'If-None-Match': etag } })).status).toBe(401);
  });

  it('keeps endpoints apart', async () => {
    const alice = new ApiClient(svc.url);
    await alice.connect('cache-ads-endpoints');
    const bonus = await alice.get('/api/ad/bonus?lang=en');
    const specials = await alice.get('/api/ad/specials?lang=en');
    expect(bonus.json.data.ads[0].adId).toMatch(/^bonus-/);
    expect(specials.json.data.ads[0].adId).toMatch(/^special-/);
  });

  it('never caches a refusal: a dead userToken (errorCode 3) is 401 and the next answer comes from upstream', async () => {
    const carol = new ApiClient(svc.url);
    await carol.connect('cache-ads-carol');
    svc.sandbox.killUserTokens('cache-ads-carol');
    const before = svc.sandbox.callCount('ad/specials');
    const refused = await carol.get('/api/ad/specials?lang=de');
    expect(refused.status).toBe(401);
    await carol.connect('cache-ads-carol');
    const ok = await carol.get('/api/ad/specials?lang=de');
    expect(ok.status).toBe(200);
    expect(svc.sandbox.callCount('ad/specials') - before).toBe(2);
    await carol.get('/api/ad/specials?lang=de');
    expect(svc.sandbox.callCount('ad/specials') - before).toBe(2);
  });
});

describe('response cache: ads per user (CACHE_SCOPE_ADS=user)', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { ...LANGUAGES, CACHE_SCOPE_ADS: 'user' } });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('caches each user apart', async () => {
    const alice = new ApiClient(svc.url);
    const bob = new ApiClient(svc.url);
    await alice.connect('scope-alice');
    await bob.connect('scope-bob');
    const before = svc.sandbox.callCount('ad/bonus');
    await alice.get('/api/ad/bonus');
    await alice.get('/api/ad/bonus');
    expect(svc.sandbox.callCount('ad/bonus') - before).toBe(1);
    await bob.get('/api/ad/bonus');
    await bob.get('/api/ad/bonus');
    expect(svc.sandbox.callCount('ad/bonus') - before).toBe(2);
    const calls = svc.sandbox.calls.filter((c) => c.path === 'ad/bonus');
    expect(new Set(calls.slice(-2).map((c) => c.sub)).size).toBe(2);
  });
});

describe('response cache when Redis is down', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { ...LANGUAGES, REDIS_URL: 'redis://127.0.0.1:1' } });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('steps aside: the program is answered from the upstream, nothing fails', async () => {
    for (let i = 0; i < 3; i += 1) {
      const res = await new ApiClient(svc.url).get('/api/partner/getprog?lang=fr');
      expect(res.status).toBe(200);
      expect(res.json.errorCode).toBe(0);
      expect(res.headers.get('etag')).toMatch(/^"/);
    }
    expect(svc.sandbox.callCount('partner/getprog')).toBe(3);
    expect(await cacheCount(svc.app.metrics, 'bypass')).toBe(3);
  });
});
