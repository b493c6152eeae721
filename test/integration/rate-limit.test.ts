import type { Metrics } from '../../src/observability/metrics';
import { ApiClient, type ApiResponse } from '../helpers/http';
import { startTestService, type TestService, startReplicaPair, type ReplicaPair } from '../helpers/service';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function refusals(metrics: Metrics, limit: string): Promise<number> {
  const { values } = await metrics.rateLimitRefusals.get();
  return values.find((v) => v.labels.limit === limit)?.value ?? 0;
}

/** Sends until refused (bounded), so that a window ending mid-way cannot make the test miss the limit. */
async function untilRefused(send: () => Promise<ApiResponse>, bound: number): Promise<{ refused: ApiResponse; sent: number }> {
  for (let sent = 1; sent <= bound; sent += 1) {
    const res = await send();
    if (res.status === 429) return { refused: res, sent };
    expect(res.status).not.toBe(500);
  }
  throw new Error(`no 429 after ${bound} requests`);
}

function expectRefusal(res: ApiResponse, limit: string, max: number, windowSeconds: number): void {
  expect(res.status).toBe(429);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.json).toMatchObject({ status: 429, code: 'ERR_RATE_LIMITED', title: 'Too many requests' });
  expect(typeof res.json.requestId).toBe('string');
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  // IETF draft-8 headers, one policy per limit.
  expect(res.headers.get('ratelimit')).toMatch(new RegExp(`"${limit}"; r=0; t=\\d+`));
  expect(res.headers.get('ratelimit-policy')).toMatch(new RegExp(`"${limit}"; q=${max}; w=${windowSeconds}`));
}

describe('rate limit per IP', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { RATE_LIMIT_IP_MAX: '5', RATE_LIMIT_WINDOW_SECONDS: '2' } });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('trips with 429, Retry-After and RateLimit headers, counts the refusal, and resets after the window', async () => {
    const api = new ApiClient(svc.url);
    const ok = await api.get('/api/partner/getprog');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('ratelimit')).toMatch(/"ip"; r=\d+; t=\d+/);
    const { refused } = await untilRefused(() => api.get('/api/partner/getprog'), 20);
    expectRefusal(refused, 'ip', 5, 2);
    expect(await refusals(svc.app.metrics, 'ip')).toBeGreaterThanOrEqual(1);
    // Any route under /api counts, sessions or not.
    expect((await api.get('/api/session')).status).toBe(429);

    await sleep(Number(refused.headers.get('retry-after')) * 1000 + 300);
    expect((await api.get('/api/partner/getprog')).status).toBe(200);
  });
});

describe('rate limit on connects', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { RATE_LIMIT_CONNECT_MAX: '2', RATE_LIMIT_WINDOW_SECONDS: '60' } });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('refuses the connect past the limit, before anything reaches the upstream, and leaves other routes alone', async () => {
    const api = new ApiClient(svc.url);
    expect((await api.connect('rl-connect-1')).status).toBe(200);
    expect((await api.connect('rl-connect-2')).status).toBe(200);
    const before = svc.sandbox.callCount('user/clientcheckcredentials');
    const refused = await api.connect('rl-connect-3');
    expectRefusal(refused, 'connect', 2, 60);
    expect(svc.sandbox.callCount('user/clientcheckcredentials')).toBe(before);
    expect(await refusals(svc.app.metrics, 'connect')).toBe(1);
    expect((await api.get('/api/partner/getprog')).status).toBe(200);
  });
});

describe('rate limit on mutations, per session', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { RATE_LIMIT_MUTATION_MAX: '2', RATE_LIMIT_WINDOW_SECONDS: '60' } });
  });
  afterAll(async () => {
    await svc.close();
  });

  it("refuses a session's mutations past the limit; another user's session is not affected; reads are not counted", async () => {
    const alice = new ApiClient(svc.url);
    const bob = new ApiClient(svc.url);
    await alice.connect('rl-mutation-alice');
    await bob.connect('rl-mutation-bob');
    expect((await alice.post('/api/generosity/store', { action: 'review' })).status).toBe(200);
    expect((await alice.get('/api/gift/list')).status).toBe(200);
    expect((await alice.post('/api/generosity/store', { action: 'review' })).status).toBe(200);
    const before = svc.sandbox.callCount('generosity/store');
    const refused = await alice.post('/api/generosity/store', { action: 'review' });
    expectRefusal(refused, 'mutation', 2, 60);
    expect(svc.sandbox.callCount('generosity/store')).toBe(before);
    expect((await bob.post('/api/generosity/store', { action: 'review' })).status).toBe(200);
    expect((await alice.get('/api/gift/list')).status).toBe(200);
    expect(await refusals(svc.app.metrics, 'mutation')).toBe(1);
  });

  it('counts by user: a second session of the same user shares the count', async () => {
    const phone = new ApiClient(svc.url);
    const laptop = new ApiClient(svc.url);
    await phone.connect('rl-mutation-carol');
    await laptop.connect('rl-mutation-carol');
    expect((await phone.post('/api/generosity/store', { action: 'review' })).status).toBe(200);
    expect((await laptop.post('/api/generosity/store', { action: 'review' })).status).toBe(200);
    expect((await phone.post('/api/generosity/store', { action: 'review' })).status).toBe(429);
  });
});

describe('rate limits shared by two replicas', () => {
  let a: TestService;
  let b: TestService;
  let pair: ReplicaPair;
  beforeAll(async () => {
    pair = await startReplicaPair({ label: 'rl2', env: { RATE_LIMIT_IP_MAX: '4', RATE_LIMIT_WINDOW_SECONDS: '60' } });
    ({ a, b } = pair);
  });
  afterAll(() => pair.close());

  it('counts requests on either replica against one limit', async () => {
    for (let i = 0; i < 4; i += 1) expect((await new ApiClient(i % 2 ? a.url : b.url).get('/api/partner/getprog')).status).toBe(200);
    expectRefusal(await new ApiClient(a.url).get('/api/partner/getprog'), 'ip', 4, 60);
    expect((await new ApiClient(b.url).get('/api/partner/getprog')).status).toBe(429);
  });
});

describe('rate limits without Redis or turned off', () => {
  it('count in process when there is no REDIS_URL', async () => {
    const svc = await startTestService({ redis: false, env: { RATE_LIMIT_IP_MAX: '3', RATE_LIMIT_WINDOW_SECONDS: '60' } });
    try {
      const api = new ApiClient(svc.url);
      for (let i = 0; i < 3; i += 1) expect((await api.get('/api/partner/getprog')).status).toBe(200);
      expectRefusal(await api.get('/api/partner/getprog'), 'ip', 3, 60);
    } finally {
      await svc.close();
    }
  });

  it('fail open when Redis is down: no 429, no hang, no error, and the failure is logged', async () => {
    const svc = await startTestService({ env: { REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_IP_MAX: '1', RATE_LIMIT_WINDOW_SECONDS: '60' } });
    try {
      const api = new ApiClient(svc.url);
      for (let i = 0; i < 4; i += 1) {
        const res = await api.get('/api/partner/getprog');
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit')).toBeNull();
      }
      expect(svc.logs.some((l) => l.includes('fail open'))).toBe(true);
    } finally {
      await svc.close();
    }
  });

  it('RATE_LIMIT_ENABLED=false turns every limit off', async () => {
    const svc = await startTestService({ env: { RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_IP_MAX: '1', RATE_LIMIT_CONNECT_MAX: '1' } });
    try {
      const api = new ApiClient(svc.url);
      for (let i = 0; i < 3; i += 1) {
        const res = await api.get('/api/partner/getprog');
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit')).toBeNull();
        expect((await api.connect(`rl-off-${i}`)).status).toBe(200);
      }
    } finally {
      await svc.close();
    }
  });
});
