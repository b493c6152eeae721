import { createClient } from 'redis';
import { ApiClient } from '../helpers/http';
import { sign } from 'cookie-signature';
import { startTestService, TEST_SESSION_SECRET, type TestService, startReplicaPair, type ReplicaPair } from '../helpers/service';
import { dropPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis';

describe('sessions', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('regenerates the session id at connect', async () => {
    const api = new ApiClient(svc.url);
    const connected = await api.connect('fixation-1');
    expect(Object.keys(connected.json).sort()).toEqual(['data', 'errorCode', 'errorMsg']);
    const first = api.cookies.get('miles.sid');
    await api.connect('fixation-1');
    expect(api.cookies.get('miles.sid')).not.toBe(first);
    // The old id no longer works.
    const old = new ApiClient(svc.url);
    old.cookies.set('miles.sid', first!);
    expect((await old.get('/api/session')).json.connected).toBe(false);
  });

  it('refuses a tampered cookie', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('tamper-1');
    const value = decodeURIComponent(api.cookies.get('miles.sid')!);
    api.cookies.set('miles.sid', encodeURIComponent(value.slice(0, -2) + (value.endsWith('A') ? 'BB' : 'AA')));
    expect((await api.get('/api/session')).json.connected).toBe(false);
    expect((await api.get('/api/gift/list')).status).toBe(401);
  });

  it('does not rewrite an unchanged session, and parallel requests keep it whole', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('parallel-1', { email: 'p1@example.com' });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? api.get('/api/gift/list') : api.post('/api/generosity/store', { action: 'purchase', param1: `o-${i}` }))),
    );
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.setCookies).toHaveLength(0);
    }
    expect((await api.get('/api/session')).json.user.email).toBe('p1@example.com');
  });

  it('keeps the userToken encrypted at rest', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('at-rest-1');
    await api.get('/api/gift/list');
    const token = svc.sandbox.calls.filter((c) => c.path === 'gift/list').pop()!.sub;
    const redis = createClient({ url: testRedisUrl() });
    await redis.connect();
    try {
      const keys: string[] = [];
      for await (const batch of redis.scanIterator({ MATCH: `${svc.prefix}sess:*`, COUNT: 500 })) keys.push(...batch);
      expect(keys.length).toBeGreaterThan(0);
      for (const k of keys) {
        const raw = (await redis.get(k))!;
        expect(raw).not.toContain(token);
        if (raw.includes('at-rest-1')) expect(JSON.parse(raw).sealedToken).toMatch(/^v1\./);
      }
    } finally {
      await redis.close();
    }
  });

  it('ends the session when the upstream says the token is dead (errorCode 3)', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('dead-token-1');
    svc.sandbox.killUserTokens('dead-token-1');
    const res = await api.get('/api/gift/list');
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.json.upstreamErrorCode).toBe(3);
    expect(res.setCookies.some((c) => c.startsWith('miles.sid=;') || /Expires=Thu, 01 Jan 1970/.test(c))).toBe(true);
    expect((await api.get('/api/session')).json.connected).toBe(false);
  });

  it('ends the session after its absolute lifetime', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('absolute-1');
    const redis = createClient({ url: testRedisUrl() });
    await redis.connect();
    try {
      for await (const batch of redis.scanIterator({ MATCH: `${svc.prefix}sess:*`, COUNT: 500 })) {
        for (const k of batch) {
          const raw = (await redis.get(k))!;
          const sess = JSON.parse(raw);
          if (sess.user?.partnerClientId !== 'absolute-1') continue;
          sess.createdAt = Date.now() - (svc.settings.session.absoluteTtlSeconds + 5) * 1000;
          await redis.set(k, JSON.stringify(sess), { KEEPTTL: true });
        }
      }
    } finally {
      await redis.close();
    }
    expect((await api.get('/api/gift/list')).status).toBe(401);
  });
});

describe('mobile token transport', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('gives a bearer token instead of a cookie, and carries the same session', async () => {
    const app = new ApiClient(svc.url);
    // The connect itself carries no bearer here (insecure-body identity), so it needs X-CSRF like any other.
    const res = await app.connect('mobile-1', {}, { headers: { 'X-Session-Transport': 'token' } });
    expect(res.status).toBe(200);
    expect(res.setCookies).toHaveLength(0);
    expect(res.json.session.expiresIn).toBe(svc.settings.session.idleTtlSeconds);
    expect(typeof res.json.session.token).toBe('string');
    expect(res.json.data.user).not.toHaveProperty('userToken');
    // The envelope and the session, nothing of the server's own (the session id stays there).
    expect(Object.keys(res.json).sort()).toEqual(['data', 'errorCode', 'errorMsg', 'session']);
    expect(Object.keys(res.json.session).sort()).toEqual(['expiresIn', 'token']);
    app.bearer = res.json.session.token;
    // No X-CSRF and a foreign Origin: bearer requests carry no ambient credential.
    const earn = await app.post('/api/generosity/store', { action: 'review' }, { csrf: false, headers: { Origin: 'https://elsewhere.example' } });
    expect(earn.status).toBe(200);
    expect(earn.setCookies).toHaveLength(0);
    expect((await app.get('/api/session')).json.user.partnerClientId).toBe('mobile-1');
    const logout = await app.post('/api/user/logout', {}, { csrf: false });
    expect(logout.status).toBe(200);
    expect((await app.get('/api/gift/list')).status).toBe(401);
  });

  it('refuses a forged token', async () => {
    const app = new ApiClient(svc.url);
    app.bearer = 'mbs.abc.def';
    expect((await app.get('/api/gift/list')).status).toBe(401);
  });
});

describe('two instances on one Redis', () => {
  let a: TestService;
  let b: TestService;
  let pair: ReplicaPair;
  beforeAll(async () => {
    pair = await startReplicaPair({ label: 'pair' });
    ({ a, b } = pair);
  });
  afterAll(() => pair.close());

  it('a session made on one works on the other; logout on one ends it on the other', async () => {
    const onA = new ApiClient(a.url);
    await onA.connect('pair-1');
    const onB = new ApiClient(b.url);
    onB.cookies.set('miles.sid', onA.cookies.get('miles.sid')!);
    expect((await onB.get('/api/gift/list')).status).toBe(200);

    // A second device of the same user, connected through B.
    const device2 = new ApiClient(b.url);
    await device2.connect('pair-1');
    expect((await onB.post('/api/user/logout', {})).status).toBe(200);
    expect((await onA.get('/api/gift/list')).status).toBe(401);
    expect((await device2.get('/api/gift/list')).status).toBe(401);
    expect((await device2.get('/api/session')).json.connected).toBe(false);
  });
});

describe('when Redis does not answer', () => {
  let svc: TestService;
  beforeAll(async () => {
    // A port where nothing listens stands for a Redis that is down.
    svc = await startTestService({ env: { REDIS_URL: 'redis://127.0.0.1:1' } });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('answers 503 with Retry-After to a request that needs the session, and /readyz is 503', async () => {
    const api = new ApiClient(svc.url);
    api.cookies.set('miles.sid', encodeURIComponent(`s:${sign('some-session-id', TEST_SESSION_SECRET)}`));
    const res = await api.get('/api/gift/list');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const connect = await new ApiClient(svc.url).connect('redis-down-1');
    expect(connect.status).toBe(503);
    const ready = await fetch(`${svc.internalUrl}/readyz`);
    expect(ready.status).toBe(503);
  });

  it('still answers the program, which needs no session', async () => {
    expect((await new ApiClient(svc.url).get('/api/partner/getprog')).status).toBe(200);
  });
});

describe('Secure cookies (COOKIE_SECURE on, the default)', () => {
  let svc: TestService;
  let behindIngress: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { COOKIE_SECURE: 'true' } });
    behindIngress = await startTestService({ env: { COOKIE_SECURE: 'true', TRUST_PROXY: 'loopback' } });
  });
  afterAll(async () => {
    await svc.close();
    await behindIngress.close();
  });

  it('sets a __Host- Secure cookie on loopback development hosts, which browsers keep there', async () => {
    const api = new ApiClient(svc.url);
    const res = await api.connect('secure-1');
    expect(res.status).toBe(200);
    const cookie = res.setCookies.find((c) => c.startsWith('__Host-miles.sid='))!;
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Domain=/i);
    expect((await api.get('/api/gift/list')).status).toBe(200);
  });

  it('refuses to connect over plain HTTP elsewhere instead of silently dropping the cookie', async () => {
    const before = svc.sandbox.callCount();
    const res = await new ApiClient(svc.url).connect('secure-2', {}, { headers: { Host: 'shop.example' } });
    expect(res.status).toBe(500);
    expect(res.json.code).toBe('ERR_INSECURE_TRANSPORT');
    expect(res.json.detail).toMatch(/TRUST_PROXY/);
    expect(svc.sandbox.callCount()).toBe(before);
  });

  it('sets the cookie behind a TLS-terminating ingress named by TRUST_PROXY', async () => {
    const api = new ApiClient(behindIngress.url);
    const headers = { Host: 'shop.example', 'X-Forwarded-Proto': 'https' };
    const res = await api.connect('secure-3', {}, { headers });
    expect(res.status).toBe(200);
    expect(res.setCookies.some((c) => c.startsWith('__Host-miles.sid=') && /; Secure/.test(c))).toBe(true);
    const own = await api.post('/api/generosity/store', { action: 'review' }, { headers: { ...headers, Origin: 'https://shop.example' } });
    expect(own.status).toBe(200);
  });
});

describe('sessions: Redis round trips', () => {
  let svc: TestService;
  let monitor: ReturnType<typeof createClient>;
  const seen: string[] = [];
  beforeAll(async () => {
    // The rate limits' own round trips are theirs (test/integration/rate-limit.test.ts).
    svc = await startTestService({ env: { RATE_LIMIT_ENABLED: 'false' } });
    monitor = createClient({ url: testRedisUrl() });
    await monitor.connect();
    await monitor.monitor((line: string) => {
      // Round trips only: not the commands a script runs inside Redis ("[0 lua]").
      if (line.includes(svc.prefix) && !/^[\d.]+ \[\d+ lua\]/.test(line)) seen.push(line.replace(/^[\d.]+ \[[^\]]*\] /, ''));
    });
  });
  afterAll(async () => {
    await monitor.destroy();
    await svc.close();
  });
  /** The commands (their names) the service sent about its own keys while `action` ran. */
  async function commandsOf(action: () => Promise<unknown>): Promise<string[]> {
    seen.length = 0;
    await action();
    // MONITOR lines may trail the answer by a moment.
    await new Promise((resolve) => setTimeout(resolve, 150));
    return seen.map((l) => JSON.parse(l.split(' ')[0]!) as string).map((c) => c.toUpperCase());
  }

  it('a connect without a session: the session written once and indexed, nothing deleted', async () => {
    const api = new ApiClient(svc.url);
    const commands = await commandsOf(() => api.connect('trips-1'));
    expect(commands.sort()).toEqual(['EVAL', 'SET']);
    expect((await api.get('/api/session')).json.connected).toBe(true);
  });

  it('a session-carried read: one GET, no write and no touch right after the connect', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('trips-2');
    for (let i = 0; i < 3; i++) {
      const commands = await commandsOf(async () => expect((await api.get('/api/gift/list')).status).toBe(200));
      expect(commands).toEqual(['GET']);
    }
  });

  it('a connect over a connected session ends the old one', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('trips-3');
    const commands = await commandsOf(() => api.connect('trips-3'));
    expect(commands.sort()).toEqual(['DEL', 'EVAL', 'GET', 'SET']);
  });
});

describe('sessions: secret rotation', () => {
  const OLD = 'old-session-secret-0123456789abcdef0123456';
  const NEW = 'new-session-secret-0123456789abcdef0123456';
  // The userToken's key is set apart from the cookie secrets, as a rotation of those keeps it.
  const TOKEN_KEY = 'ab'.repeat(32);
  let before: TestService;
  let after: TestService;
  let stranger: TestService;
  const prefix = uniquePrefix('rotation');
  beforeAll(async () => {
    before = await startTestService({ prefix, env: { SESSION_SECRET: OLD, TOKEN_ENCRYPTION_KEY: TOKEN_KEY } });
    after = await startTestService({ prefix, sandbox: before.sandbox, env: { SESSION_SECRET: `${NEW},${OLD}`, TOKEN_ENCRYPTION_KEY: TOKEN_KEY } });
    stranger = await startTestService({ prefix, sandbox: before.sandbox, env: { SESSION_SECRET: NEW, TOKEN_ENCRYPTION_KEY: TOKEN_KEY } });
  });
  afterAll(async () => {
    await stranger.close();
    await after.close();
    await before.close();
    await dropPrefix(prefix);
  });

  it('a cookie signed with a secret being rotated out still reads the session; one no listed secret signed does not', async () => {
    const api = new ApiClient(before.url);
    await api.connect('rotation-1');
    const cookie = api.cookies.get('miles.sid')!;
    for (const [svc, status] of [
      [after, 200],
      [stranger, 401],
    ] as const) {
      const other = new ApiClient(svc.url);
      other.cookies.set('miles.sid', cookie);
      expect((await other.get('/api/gift/list')).status).toBe(status);
    }
    // Another cookie of a similar name, or ours twice: the first of ours counts, as in express-session.
    const res = await fetch(`${after.url}/api/session`, { headers: { Cookie: `xmiles.sid=nope; miles.sid=${cookie}; miles.sid=s%3Aforged.sig` } });
    expect(((await res.json()) as { connected: boolean }).connected).toBe(true);
  });
});
