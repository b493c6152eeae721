import calculateSlot from 'cluster-key-slot';
import type { Sandbox } from '../../src/sandbox';
import { ApiClient, type ApiResponse } from './http';
import { uniquePrefix } from './redis';
import { startTestSandbox, startTestService, type TestService } from './service';
import { refusedWithinBound } from './store-refusal';

/**
 * The checks every Redis topology must pass, run through whole services (two
 * replicas sharing a key prefix, as in production) whose only Redis is the
 * topology under test: sessions, response cache, idempotency, rate limits and
 * the back-end token. `describeServiceOn` is called by each topology suite
 * (topology-cluster.test.ts, topology-sentinel.test.ts).
 */
export interface TopologyUnderTest {
  /** The service's Redis settings: REDIS_MODE and the mode's own. */
  readonly env: Readonly<Record<string, string>>;
  /** Every key matching a SCAN pattern, with the master holding it. */
  keys(pattern: string): Promise<Array<{ readonly key: string; readonly master: string }>>;
}

export const TOPOLOGY_API_KEY = 'topology-suite-key-0123456789abcdef';

/** Two replicas over the topology, sharing one sandbox and one key prefix. */
export interface Replicas {
  readonly a: TestService;
  readonly b: TestService;
  readonly sandbox: Sandbox;
  readonly prefix: string;
  close(): Promise<void>;
}

export async function startReplicas(topology: TopologyUnderTest, env: Record<string, string> = {}): Promise<Replicas> {
  const sandbox = await startTestSandbox();
  const prefix = uniquePrefix('topo');
  const settings = { ...topology.env, INTERNAL_API_KEYS: `topology:${TOPOLOGY_API_KEY}`, REDIS_COMMAND_TIMEOUT_MS: '1000', ...env };
  const a = await startTestService({ redis: false, sandbox, prefix, env: settings });
  const b = await startTestService({ redis: false, sandbox, prefix, env: settings });
  return {
    a,
    b,
    sandbox,
    prefix,
    async close() {
      await Promise.allSettled([a.close(), b.close()]);
      await sandbox.close();
    },
  };
}

export async function internal(svc: TestService, path: string, body: unknown): Promise<ApiResponse> {
  const res = await fetch(`${svc.internalUrl}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOPOLOGY_API_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, setCookies: res.headers.getSetCookie() };
}

/** The same browser (its cookies) talking to another replica. */
export function sameBrowserOn(api: ApiClient, baseUrl: string): ApiClient {
  const other = new ApiClient(baseUrl);
  for (const [k, v] of api.cookies) other.cookies.set(k, v);
  other.bearer = api.bearer;
  return other;
}

/** The session id inside a `miles.sid` cookie value (`s:<id>.<signature>`, URL-encoded). */
export function sessionIdOf(api: ApiClient): string {
  const value = decodeURIComponent(api.cookies.get('miles.sid') ?? '');
  if (!value.startsWith('s:')) throw new Error('no session cookie');
  return value.slice(2, value.lastIndexOf('.'));
}

let keySeq = 0;
const newKey = (): string => `topo-${process.pid}-${Date.now()}-${(keySeq += 1)}`;

export function describeServiceOn(label: string, topology: () => TopologyUnderTest): void {
  describe(`${label}: sessions, cache, idempotency, rate limits and back-end token`, () => {
    let replicas: Replicas;
    beforeAll(async () => {
      replicas = await startReplicas(topology());
    }, 60_000);
    afterAll(async () => {
      await replicas?.close();
    });

    it('starts on it and is ready', async () => {
      const { a, b } = replicas;
      for (const svc of [a, b]) {
        expect(svc.app.store.kind).toBe('redis');
        const ready = await fetch(`${svc.internalUrl}/readyz`);
        expect(ready.status).toBe(200);
        expect(svc.settings.redis.mode).toBe(topology().env.REDIS_MODE);
      }
    });

    it('sessions: a connect on one replica is read on the other; mobile tokens; logout ends it everywhere', async () => {
      const { a, b } = replicas;
      const browser = new ApiClient(a.url);
      expect((await browser.connect('topo-session-1', { email: 'one@example.com' })).status).toBe(200);
      const elsewhere = sameBrowserOn(browser, b.url);
      expect((await elsewhere.get('/api/session')).json).toMatchObject({ connected: true, user: { partnerClientId: 'topo-session-1', email: 'one@example.com' } });
      expect((await elsewhere.get('/api/gift/list')).status).toBe(200);

      const phone = new ApiClient(b.url);
      const connected = await phone.connect('topo-session-2', {}, { headers: { 'X-Session-Transport': 'token' } });
      expect(connected.status).toBe(200);
      expect(phone.cookies.size).toBe(0);
      const onA = new ApiClient(a.url);
      onA.bearer = connected.json.session.token;
      expect((await onA.get('/api/session')).json).toMatchObject({ connected: true, user: { partnerClientId: 'topo-session-2' } });

      expect((await elsewhere.post('/api/user/logout', {})).status).toBe(200);
      expect((await sameBrowserOn(browser, a.url).get('/api/session')).json).toEqual({ connected: false });
    });

    it('sessions: revoking a user ends all their sessions, whatever slots they sit on', async () => {
      const { a, b, prefix } = replicas;
      const user = 'topo-revoke-1';
      const devices = [new ApiClient(a.url), new ApiClient(b.url), new ApiClient(a.url), new ApiClient(b.url)];
      for (const d of devices) expect((await d.connect(user)).status).toBe(200);
      const sessionKeys = devices.map((d) => `${prefix}sess:${sessionIdOf(d)}`);
      const before = new Set((await topology().keys(`${prefix}*`)).map((k) => k.key));
      for (const key of [...sessionKeys, `${prefix}user-sessions:{${user}}`]) expect(before).toContain(key);

      const res = await internal(a, '/internal/sessions/revoke', { partnerClientId: user });
      expect([res.status, res.json]).toEqual([200, { revoked: 4 }]);
      for (const d of devices) expect((await d.get('/api/gift/list')).status).toBe(401);
      const after = new Set((await topology().keys(`${prefix}*`)).map((k) => k.key));
      for (const key of [...sessionKeys, `${prefix}user-sessions:{${user}}`]) expect(after).not.toContain(key);
    });

    it('cache: one upstream call for a cold key hit on both replicas at once, then hits, ETag, and a purge of every master', async () => {
      const { a, b, sandbox, prefix } = replicas;
      const before = sandbox.callCount('partner/getprog');
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => new ApiClient(i % 2 ? a.url : b.url).get('/api/partner/getprog?lang=fr')));
      for (const r of answers) expect([r.status, r.text]).toEqual([200, answers[0]!.text]);
      expect(sandbox.callCount('partner/getprog') - before).toBe(1);
      const etag = answers[0]!.headers.get('etag')!;
      expect((await new ApiClient(a.url).get('/api/partner/getprog?lang=fr', { headers: { 'If-None-Match': etag } })).status).toBe(304);

      // Entry and lock share their hash tag: one slot, so a fill never spans two.
      const entry = (await topology().keys(`${prefix}cache:*`)).map((k) => k.key).find((k) => k.includes('partner/getprog|fr'));
      expect(entry).toBeDefined();
      expect(calculateSlot(entry!)).toBe(calculateSlot(entry!.replace(`${prefix}cache:`, `${prefix}cache-lock:`)));

      expect((await new ApiClient(b.url).get('/api/partner/getprog?lang=en')).status).toBe(200);
      const purged = await internal(b, '/internal/cache/purge', {});
      expect(purged.status).toBe(200);
      expect(purged.json.purged).toBeGreaterThanOrEqual(2);
      expect(await topology().keys(`${prefix}cache:*`)).toEqual([]);
      // The replica that purged answers from the upstream at once (the other within CACHE_LOCAL_MS: cache.test.ts).
      const calls = sandbox.callCount('partner/getprog');
      expect((await new ApiClient(b.url).get('/api/partner/getprog?lang=fr')).status).toBe(200);
      expect(sandbox.callCount('partner/getprog')).toBe(calls + 1);
    });

    it('idempotency: a repeat on the other replica replays the first answer; the upstream is reached once', async () => {
      const { a, b, sandbox } = replicas;
      const api = new ApiClient(a.url);
      await api.connect('topo-idem-1');
      const key = newKey();
      const before = sandbox.callCount('generosity/store');
      const first = await api.post('/api/generosity/store', { action: 'purchase', param1: 'topo-order-1' }, { headers: { 'Idempotency-Key': key } });
      expect(first.status).toBe(200);
      const again = await sameBrowserOn(api, b.url).post('/api/generosity/store', { action: 'purchase', param1: 'topo-order-1' }, { headers: { 'Idempotency-Key': key } });
      expect([again.status, again.text, again.headers.get('idempotent-replayed')]).toEqual([first.status, first.text, 'true']);
      expect(sandbox.callCount('generosity/store') - before).toBe(1);
    });

    it('back-end token: one fetch for both replicas, kept encrypted in Redis, renewed once after errorCode 10', async () => {
      const { a, b, sandbox, prefix } = replicas;
      const before = sandbox.callCount('auth/token');
      const calls = await Promise.all(
        Array.from({ length: 6 }, (_, i) => internal(i % 2 ? a : b, '/internal/user/infos', { partnerClientIds: ['topo-session-1'] })),
      );
      for (const r of calls) expect(r.status).toBe(200);
      expect(sandbox.callCount('auth/token') - before).toBe(1);
      const stored = (await topology().keys(`${prefix}backend-token*`)).map((k) => k.key);
      expect(stored).toContain(`${prefix}backend-token`);

      sandbox.expireBackendTokens();
      expect((await internal(b, '/internal/user/infos', { partnerClientIds: ['topo-session-1'] })).status).toBe(200);
      expect((await internal(a, '/internal/user/infos', { partnerClientIds: ['topo-session-1'] })).status).toBe(200);
      expect(sandbox.callCount('auth/token') - before).toBe(2);
    });

    describe('rate limits', () => {
      let limited: Replicas;
      beforeAll(async () => {
        limited = await startReplicas(topology(), { RATE_LIMIT_CONNECT_MAX: '3' });
      }, 60_000);
      afterAll(async () => {
        await limited?.close();
      });

      it('are counted in the topology and shared by the replicas: 429 with Retry-After past the limit', async () => {
        const { a, b, prefix } = limited;
        const statuses: number[] = [];
        for (let i = 0; i < 3; i += 1) statuses.push((await new ApiClient(i % 2 ? a.url : b.url).connect(`topo-rl-${i}`)).status);
        expect(statuses).toEqual([200, 200, 200]);
        const refused = await new ApiClient(a.url).connect('topo-rl-3');
        expect(refused.status).toBe(429);
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
        expect((await topology().keys(`${prefix}rl:*`)).length).toBeGreaterThan(0);
      });
    });
  });
}

// ---- failover ---------------------------------------------------------------

export interface Sample {
  readonly what: 'read' | 'connect';
  /** When it was sent: orders it against the failure, never measures it. */
  readonly startedAt: number;
  /** HTTP status, or `hang` past 8 s, or `transport` for a failed connection. */
  readonly status: number | 'hang' | 'transport';
  readonly retryAfter: string | null;
  readonly contentType: string | null;
  /** The problem document's detail: how the service came to refuse. */
  readonly detail: string | null;
  /** For a connect: the client now holding its cookie. */
  readonly api?: ApiClient;
}

async function timed(what: Sample['what'], api: ApiClient, call: () => Promise<ApiResponse>): Promise<Sample> {
  const startedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const res = await Promise.race([
      call(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('hang'), { hang: true })), 8000);
      }),
    ]);
    const detail = typeof res.json?.detail === 'string' ? (res.json.detail as string) : null;
    return { what, startedAt, status: res.status, retryAfter: res.headers.get('retry-after'), contentType: res.headers.get('content-type'), detail, api };
  } catch (err) {
    return { what, startedAt, status: (err as { hang?: boolean }).hang ? 'hang' : 'transport', retryAfter: null, contentType: null, detail: null, api };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Requests that need Redis, in a loop until stopped: session reads (and a
 * read that uses the session's userToken) by the given users, and connects of
 * new users, which write a session.
 */
export function startFailoverLoad(baseUrl: string, users: readonly ApiClient[], label: string): { readonly samples: Sample[]; stop(): Promise<void> } {
  const samples: Sample[] = [];
  let stopped = false;
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const readers = users.map(async (api, i) => {
    for (let n = i; !stopped; n += 1) {
      samples.push(await timed('read', api, () => (n % 2 ? api.get('/api/gift/list') : api.get('/api/session'))));
      await sleep(20);
    }
  });
  const connector = (async () => {
    for (let n = 0; !stopped; n += 1) {
      const api = new ApiClient(baseUrl);
      samples.push(await timed('connect', api, () => api.connect(`${label}-new-${n}`)));
      await sleep(40);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await Promise.all([...readers, connector]);
    },
  };
}

/**
 * Every answer during the failover: 200, or 503 problem+json with Retry-After that the service gave
 * at once or at its own deadline within the contract's bound (store-refusal.ts); never a hang.
 */
export function expectFailoverAnswers(samples: readonly Sample[]): void {
  expect(samples.length).toBeGreaterThan(10);
  const wrong = samples.filter(
    (s) => !(s.status === 200 || (s.status === 503 && s.retryAfter !== null && /problem\+json/.test(s.contentType ?? '') && refusedWithinBound(s.detail))),
  );
  expect(wrong.map(({ what, status, retryAfter, detail }) => ({ what, status, retryAfter, detail }))).toEqual([]);
}

/** Polls until the user's session answers connected again; gives up (a failure, not a measure) after `limitMs`. */
export async function waitConnected(api: ApiClient, since: number, limitMs: number): Promise<void> {
  for (;;) {
    try {
      const res = await api.get('/api/session');
      if (res.status === 200 && res.json?.connected === true) return;
    } catch {
      // the service is there; only Redis is failing over
    }
    if (Date.now() - since > limitMs) throw new Error(`the session did not answer again within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
