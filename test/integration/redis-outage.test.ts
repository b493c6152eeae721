import { ApiClient } from '../helpers/http';
import { startRedisServer, type PrivateRedis } from '../helpers/redis-server';
import { startTestService, type TestService } from '../helpers/service';
import { refusedWithinBound } from '../helpers/store-refusal';

/**
 * Redis goes away under load and comes back, with the service left running:
 * a Redis of the test's own (never the shared one) is killed, restarted on
 * the same port, frozen and thawed.
 *
 * Contract: a request that needs the session answers 503 problem+json with
 * Retry-After within 2 s (measured with a margin, only on requests started
 * once the outage is established), /readyz is 503, the cached program still
 * answers (from the upstream), the process stays up, and no session is
 * treated as logged out; once Redis is back, everything recovers within
 * 10 s without a restart.
 */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const RECOVERY_MS = 10_000;

interface Sample {
  readonly route: string;
  /** When it was sent: orders it against the outage, never measures it. */
  readonly startedAt: number;
  /** HTTP status, or how the request failed without one. */
  readonly status: number | 'hang' | 'transport';
  readonly retryAfter: string | null;
  readonly contentType: string | null;
  readonly setCookie: string[];
  readonly body: string;
}

interface Credentials {
  readonly cookie?: string;
  readonly bearer?: string;
}

async function timed(baseUrl: string, route: string, who: Credentials, init: { method?: string; body?: unknown } = {}): Promise<Sample> {
  const headers: Record<string, string> = {};
  if (who.cookie) headers.Cookie = who.cookie;
  if (who.bearer) headers.Authorization = `Bearer ${who.bearer}`;
  if (init.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    if (!who.bearer) headers['X-CSRF'] = '1';
  }
  const startedAt = Date.now();
  try {
    const res = await fetch(`${baseUrl}${route}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      signal: AbortSignal.timeout(8000),
    });
    const body = await res.text();
    return { route, startedAt, status: res.status, retryAfter: res.headers.get('retry-after'), contentType: res.headers.get('content-type'), setCookie: res.headers.getSetCookie(), body };
  } catch (err) {
    const hang = (err as Error).name === 'TimeoutError';
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { route, startedAt, status: hang ? 'hang' : 'transport', retryAfter: null, contentType: null, setCookie: [], body: `${String(err)} ${cause?.code ?? ''} ${cause?.message ?? ''}` };
  }
}

/** Workers looping over the routes with the given credentials until stopped; every answer is kept. */
function startLoad(baseUrl: string, users: readonly Credentials[]): { samples: Sample[]; stop(): Promise<void> } {
  const samples: Sample[] = [];
  let stopped = false;
  const plan: Array<{ route: string; body?: unknown }> = [
    { route: '/api/session' },
    { route: '/api/gift/list' },
    { route: '/api/partner/getprog' },
    { route: '/api/user/historyearns' },
    { route: '/api/generosity/store', body: { action: 'review' } },
    { route: '/api/ad/news?lang=en' },
  ];
  const workers = users.map(async (who, w) => {
    for (let i = w; !stopped; i += 1) {
      const step = plan[i % plan.length]!;
      samples.push(await timed(baseUrl, step.route, who, step.body === undefined ? {} : { body: step.body }));
      await sleep(15);
    }
  });
  return {
    samples,
    async stop() {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

function credentialsOf(api: ApiClient): Credentials {
  return api.bearer ? { bearer: api.bearer } : { cookie: [...api.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
}

async function readyStatus(svc: TestService): Promise<number | 'hang'> {
  try {
    return (await fetch(`${svc.internalUrl}/readyz`, { signal: AbortSignal.timeout(5000) })).status;
  } catch {
    return 'hang';
  }
}

/** The detail of a problem document, or the text itself when it is not one. */
function detailOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { detail?: unknown };
    return typeof parsed.detail === 'string' ? parsed.detail : body;
  } catch {
    return body;
  }
}

/** Polls until `check` holds; gives up (a failure, not a measure) after `deadlineMs`. */
async function until(what: string, deadlineMs: number, check: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > deadlineMs) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await sleep(50);
  }
}

/** Waits (10 s at most) until `count` requests started at or after `since` have their answer. */
async function samplesSince(samples: readonly Sample[], since: number, count: number): Promise<void> {
  await until(`${count} answers since the outage began`, 10_000, async () => samples.filter((s) => s.startedAt >= since).length >= count);
}

/** Checks every answer given while Redis was away: a clear 503 fast, or the program; never a logged-out session. */
function expectOutageAnswers(samples: readonly Sample[], since: number, atLeast = 1): void {
  const during = samples.filter((s) => s.startedAt >= since);
  expect(during.length).toBeGreaterThanOrEqual(atLeast);
  for (const s of during) {
    const summary = `${s.route} -> ${String(s.status)}: ${s.body}`;
    expect({ summary, hung: s.status === 'hang' || s.status === 'transport' }).toEqual({ summary, hung: false });
    if (s.route === '/api/partner/getprog') {
      expect({ summary, status: s.status }).toEqual({ summary, status: 200 });
      continue;
    }
    expect({ summary, status: s.status, problem: /^application\/problem\+json/.test(s.contentType ?? ''), retryAfter: Number(s.retryAfter) > 0 }).toEqual({
      summary,
      status: 503,
      problem: true,
      retryAfter: true,
    });
    // Within the contract's 2 s by how it was refused: at once, or at the service's own deadline.
    expect({ summary, withinBound: refusedWithinBound(detailOf(s.body)) }).toEqual({ summary, withinBound: true });
    // The session is not ended nor replaced while its store is away.
    expect(s.setCookie).toEqual([]);
  }
}

/** Everything a connected user does answers as usual again. */
async function expectRecovered(svc: TestService, users: readonly Credentials[]): Promise<void> {
  expect(await readyStatus(svc)).toBe(200);
  for (const who of users) {
    const session = await timed(svc.url, '/api/session', who);
    expect(session.status).toBe(200);
    expect(JSON.parse(session.body).connected).toBe(true);
    expect((await timed(svc.url, '/api/gift/list', who)).status).toBe(200);
  }
}

describe('Redis outage under load', () => {
  let redis: PrivateRedis;
  let svc: TestService;
  let users: Credentials[];
  let load: { samples: Sample[]; stop(): Promise<void> };

  beforeAll(async () => {
    // Persistent, as a production Redis would be: a restart keeps the sessions.
    redis = await startRedisServer({ persist: true });
    svc = await startTestService({ env: { REDIS_URL: redis.url, RATE_LIMIT_IP_MAX: '1000000', RATE_LIMIT_MUTATION_MAX: '1000000' } });
    users = [];
    for (let i = 0; i < 3; i += 1) {
      const web = new ApiClient(svc.url);
      expect((await web.connect(`outage-web-${i}`)).status).toBe(200);
      users.push(credentialsOf(web));
      const app = new ApiClient(svc.url);
      const connected = await app.connect(`outage-app-${i}`, {}, { headers: { 'X-Session-Transport': 'token' } });
      app.bearer = connected.json.session.token;
      users.push(credentialsOf(app));
    }
    load = startLoad(svc.url, users);
    await samplesSince(load.samples, 0, 12);
  });
  afterAll(async () => {
    await load?.stop();
    await svc?.close();
    await redis?.close();
  });

  it('answers normally before the outage', () => {
    const answered = load.samples.filter((s) => typeof s.status === 'number');
    expect(answered.length).toBeGreaterThan(10);
    for (const s of answered) expect([200, 409]).toContain(s.status);
  });

  it('Redis killed: 503 with Retry-After within 2 s for what needs a session, /readyz 503, the program still served, the process up', async () => {
    await redis.stop('SIGKILL');
    await until('/readyz turns 503', 5000, async () => (await readyStatus(svc)) === 503);
    const established = Date.now();
    // Upstream calls counted from here on belong to requests that started during the outage.
    await sleep(500);
    const getprogBefore = svc.sandbox.callCount('partner/getprog');
    const storesBefore = svc.sandbox.callCount('generosity/store');
    await sleep(1000);
    await samplesSince(load.samples, established, 20);

    expectOutageAnswers(load.samples, established, 20);
    const [web, app] = [users[0]!, users[1]!];
    for (const who of [web, app]) {
      for (const [route, body] of [['/api/session'], ['/api/gift/list'], ['/api/partner/initialcheckstore'], ['/api/generosity/store', { action: 'review' }]] as const) {
        expectOutageAnswers([await timed(svc.url, route, who, body ? { body } : {})], established);
      }
    }
    // A mutation with an Idempotency-Key is refused before anything is sent.
    const keyed = await fetch(`${svc.url}/api/gift/checkavailability`, {
      method: 'POST',
      headers: { Cookie: web.cookie!, 'Content-Type': 'application/json', 'X-CSRF': '1', 'Idempotency-Key': 'outage-key-1' },
      body: JSON.stringify({ giftId: 'coffee' }),
    });
    expect(keyed.status).toBe(503);
    expect(svc.sandbox.callCount('generosity/store')).toBe(storesBefore);
    expect(svc.sandbox.callCount('gift/checkavailability')).toBe(0);
    // A new visitor cannot connect meanwhile (there is nowhere to keep the session).
    expect((await new ApiClient(svc.url).connect('outage-new-1')).status).toBe(503);
    // The cached program falls through to the upstream.
    expect(svc.sandbox.callCount('partner/getprog')).toBeGreaterThan(getprogBefore);
    expect((await fetch(`${svc.internalUrl}/healthz`)).status).toBe(200);
  });

  it('Redis restarted on the same port: everything recovers within 10 s, sessions intact, no restart of the service', async () => {
    await redis.start();
    const restarted = Date.now();
    await until('a session request answers 200 again', RECOVERY_MS, async () => (await timed(svc.url, '/api/gift/list', users[0]!)).status === 200);
    await until('/readyz answers 200 again', RECOVERY_MS - (Date.now() - restarted), async () => (await readyStatus(svc)) === 200);
    await expectRecovered(svc, users);
    // Idempotency works again, and the rate limits count in Redis again (their headers are back).
    const keyed = await fetch(`${svc.url}/api/gift/checkavailability`, {
      method: 'POST',
      headers: { Cookie: users[0]!.cookie!, 'Content-Type': 'application/json', 'X-CSRF': '1', 'Idempotency-Key': 'outage-key-1' },
      body: JSON.stringify({ giftId: 'coffee' }),
    });
    expect(keyed.status).toBe(200);
    await until('the rate limits count in Redis again', RECOVERY_MS - (Date.now() - restarted), async () => {
      const res = await fetch(`${svc.url}/api/partner/getprog`);
      return res.status === 200 && /"ip"/.test(res.headers.get('ratelimit') ?? '');
    });
    expect((await new ApiClient(svc.url).connect('outage-new-2')).status).toBe(200);
    // Answers given since recovery are normal ones.
    await sleep(300);
    const recovered = Date.now();
    await sleep(500);
    for (const s of load.samples.filter((x) => x.startedAt >= recovered)) expect([200, 409]).toContain(s.status);
  });

  it('Redis stalled (frozen, connections open): the same fast 503 instead of a hang, and recovery once it answers', async () => {
    redis.freeze();
    try {
      await until('/readyz turns 503', 5000, async () => (await readyStatus(svc)) === 503);
      const established = Date.now();
      await sleep(1500);
      await samplesSince(load.samples, established, 20);
      expectOutageAnswers(load.samples, established, 20);
      for (const who of users.slice(0, 2)) expectOutageAnswers([await timed(svc.url, '/api/session', who)], established);
      expect((await fetch(`${svc.internalUrl}/healthz`)).status).toBe(200);
    } finally {
      redis.thaw();
    }
    await until('a session request answers 200 again', RECOVERY_MS, async () => (await timed(svc.url, '/api/gift/list', users[0]!)).status === 200);
    await until('/readyz answers 200 again', RECOVERY_MS, async () => (await readyStatus(svc)) === 200);
    await expectRecovered(svc, users);
  });

  it('stalled for longer than the watchdog: the connection is replaced and the service recovers after Redis is thawed', async () => {
    redis.freeze();
    try {
      await until('/readyz turns 503', 5000, async () => (await readyStatus(svc)) === 503);
      // Past the socket watchdog (5 s with the default command timeout): the stalled connection is dropped.
      await sleep(6000);
      const established = Date.now() - 1000;
      expectOutageAnswers([await timed(svc.url, '/api/session', users[0]!)], established);
    } finally {
      redis.thaw();
    }
    await until('a session request answers 200 again', RECOVERY_MS, async () => (await timed(svc.url, '/api/gift/list', users[0]!)).status === 200);
    await expectRecovered(svc, users);
    const all = load.samples.filter((s) => typeof s.status !== 'number');
    expect(all.map((s) => `${s.route} ${String(s.status)}: ${s.body}`)).toEqual([]);
  });
});

describe('a service started while Redis is down', () => {
  it('is not ready, answers 503, and becomes ready by itself once Redis starts', async () => {
    const redis = await startRedisServer();
    await redis.stop();
    const svc = await startTestService({ env: { REDIS_URL: redis.url } });
    try {
      expect(await readyStatus(svc)).toBe(503);
      const refused = await new ApiClient(svc.url).connect('late-redis-1');
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBeTruthy();
      await redis.start();
      await until('/readyz answers 200', RECOVERY_MS, async () => (await readyStatus(svc)) === 200);
      const api = new ApiClient(svc.url);
      expect((await api.connect('late-redis-1')).status).toBe(200);
      expect((await api.get('/api/gift/list')).status).toBe(200);
    } finally {
      await svc.close();
      await redis.close();
    }
  });
});
