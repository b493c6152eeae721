/**
 * The cache key space of `lang`: only PROGRAM_LANGUAGES make entries and upstream calls; case and
 * regional variants share their language's entry, and any other language is answered from the
 * entry without `lang`.
 */
import { createClient } from 'redis';
import { ApiClient } from '../helpers/http';
import { testRedisUrl } from '../helpers/redis';
import { startTestService, type TestService } from '../helpers/service';

/** Distinct, well-formed language tags that the program does not have. */
const UNKNOWN = Array.from({ length: 200 }, (_, i) => `${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}x`).filter((l) => l !== 'frx' && l !== 'enx');

async function cacheKeys(prefix: string): Promise<string[]> {
  const client = createClient({ url: testRedisUrl() });
  await client.connect();
  try {
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: `${prefix}cache:*`, COUNT: 500 })) keys.push(...batch);
    return keys.sort();
  } finally {
    await client.close();
  }
}

describe('lang and the response cache', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { PROGRAM_LANGUAGES: 'fr,en' } });
  });
  afterAll(async () => {
    await svc.close();
  });

  const upstreamCalls = (path: string): { lang?: string }[] =>
    svc.sandbox.calls.filter((c) => c.path === path).map((c) => JSON.parse(c.body) as { lang?: string });

  it('getprog: hundreds of unknown languages and every spelling of fr cost two entries and two upstream calls', async () => {
    const api = new ApiClient(svc.url);
    const plain = await api.get('/api/partner/getprog');
    expect(plain.status).toBe(200);
    const french = await api.get('/api/partner/getprog?lang=fr');
    for (const lang of ['FR', 'Fr', 'fR', 'fr-CA', 'FR_be']) {
      const res = await api.get(`/api/partner/getprog?lang=${lang}`);
      expect(res.status).toBe(200);
      expect(res.text).toBe(french.text);
    }
    for (const lang of UNKNOWN) {
      const res = await api.post('/api/partner/getprog', { lang });
      expect(res.status).toBe(200);
      expect(res.text).toBe(plain.text);
    }
    expect(upstreamCalls('partner/getprog')).toEqual([{}, { lang: 'fr' }]);
    expect(await cacheKeys(svc.prefix)).toEqual([`${svc.prefix}cache:{partner/getprog|_}`, `${svc.prefix}cache:{partner/getprog|fr}`]);
  });

  it('ads: the same for every ad endpoint', async () => {
    const api = new ApiClient(svc.url);
    expect((await api.connect('lang-ads')).status).toBe(200);
    for (const kind of ['bonus', 'specials', 'news']) {
      const english = await api.get(`/api/ad/${kind}?lang=en`);
      expect(english.status).toBe(200);
      expect((await api.get(`/api/ad/${kind}?lang=EN-gb`)).text).toBe(english.text);
      for (const lang of UNKNOWN.slice(0, 60)) expect((await api.get(`/api/ad/${kind}?lang=${lang}`)).status).toBe(200);
      expect(upstreamCalls(`ad/${kind}`)).toEqual([{ lang: 'en' }, {}]);
    }
    const adKeys = (await cacheKeys(svc.prefix)).filter((k) => k.includes('{ad/'));
    expect(adKeys).toHaveLength(6);
  });

  it('forwards the configured spelling to the endpoints that are not cached', async () => {
    const api = new ApiClient(svc.url);
    expect((await api.connect('lang-list')).status).toBe(200);
    expect((await api.get('/api/gift/list?lang=FR')).status).toBe(200);
    expect((await api.get('/api/gift/list?lang=xx')).status).toBe(200);
    expect(upstreamCalls('gift/list').slice(-2)).toEqual([{ lang: 'fr' }, {}]);
  });
});
