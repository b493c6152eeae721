import { ApiClient, type ApiResponse } from '../helpers/http';
import { startTestSandbox, startTestService, type TestService } from '../helpers/service';
import type { Sandbox } from '../../src/sandbox';

/**
 * Upstream faults injected by the sandbox (its fault control is code only,
 * off by default): each becomes one clear problem answer, the session
 * survives every fault but a dead token, and a circuit breaker stops calling
 * an upstream that keeps failing.
 */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function expectProblem(res: ApiResponse, status: number, code?: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.json.status).toBe(status);
  expect(res.json.requestId).toBe(res.headers.get('x-request-id'));
  if (code) expect(res.json.code).toBe(code);
}

/** Nothing the upstream sent on a fault (HTML, half a JSON) reaches the client. */
function expectNoUpstreamLeak(res: ApiResponse): void {
  expect(res.text).not.toMatch(/injected fault|<html/i);
}

async function metricsText(svc: TestService): Promise<string> {
  return (await fetch(`${svc.internalUrl}/metrics`)).text();
}

/** The breaker's gauge: one series per `state`, 1 for the current one. */
function circuitStates(text: string): Record<string, number> {
  const series = [...text.matchAll(/^miles_bff_upstream_circuit_state\{state="([^"]+)"\} (\d+)$/gm)];
  return Object.fromEntries(series.map(([, state, value]) => [state, Number(value)]));
}

describe('upstream faults, one by one (circuit breaker off)', () => {
  let svc: TestService;
  let api: ApiClient;
  beforeAll(async () => {
    svc = await startTestService({ env: { APM_TIMEOUT_MS: '400', CIRCUIT_BREAKER_ENABLED: 'false' } });
    api = new ApiClient(svc.url);
    expect((await api.connect('fault-1')).status).toBe(200);
  });
  afterEach(() => svc.sandbox.clearFaults());
  afterAll(async () => {
    await svc.close();
  });

  it('answers 504 when the upstream is slower than APM_TIMEOUT_MS', async () => {
    svc.sandbox.injectFault({ path: 'gift/list', kind: 'delay', ms: 1500, times: 1 });
    const res = await api.get('/api/gift/list');
    expectProblem(res, 504, 'ERR_UPSTREAM_TIMEOUT');
  });

  it.each([500, 502, 503])('answers 502 when the upstream answers HTTP %i', async (status) => {
    svc.sandbox.injectFault({ path: 'user/historyearns', kind: 'status', status, times: 1 });
    const res = await api.get('/api/user/historyearns');
    expectProblem(res, 502, 'ERR_UPSTREAM_FAULT');
    expectNoUpstreamLeak(res);
  });

  it('answers 502 when the upstream answer is unreadable', async () => {
    svc.sandbox.injectFault({ path: 'gift/list', kind: 'garbage', times: 1 });
    const res = await api.post('/api/gift/list', {});
    expectProblem(res, 502, 'ERR_UPSTREAM_UNREADABLE');
    expectNoUpstreamLeak(res);
  });

  it('retries a read once on a reset connection, and answers 502 when the retry is reset too', async () => {
    svc.sandbox.injectFault({ path: 'gift/list', kind: 'reset', times: 1 });
    expect((await api.get('/api/gift/list')).status).toBe(200);
    svc.sandbox.injectFault({ path: 'gift/list', kind: 'reset', times: 2 });
    expectProblem(await api.get('/api/gift/list'), 502, 'ERR_UPSTREAM_UNREACHABLE');
  });

  it('never resends a mutation on a reset connection: 502 after exactly one call', async () => {
    const before = svc.sandbox.callCount('generosity/store');
    svc.sandbox.injectFault({ path: 'generosity/store', kind: 'reset', times: 1 });
    expectProblem(await api.post('/api/generosity/store', { action: 'review' }), 502, 'ERR_UPSTREAM_UNREACHABLE');
    expect(svc.sandbox.callCount('generosity/store') - before).toBe(1);
  });

  it('keeps the session through every fault: only a dead token ends it', async () => {
    const session = await api.get('/api/session');
    expect(session.json).toMatchObject({ connected: true, user: { partnerClientId: 'fault-1' } });
    expect((await api.get('/api/gift/list')).status).toBe(200);
  });

  it('answers 401 and ends the session when the upstream killed the token (cookie)', async () => {
    const user = new ApiClient(svc.url);
    await user.connect('fault-killed-1');
    const sid = user.cookies.get('miles.sid')!;
    svc.sandbox.killUserTokens('fault-killed-1');
    const res = await user.post('/api/generosity/store', { action: 'review' });
    expectProblem(res, 401);
    expect(res.json.upstreamErrorCode).toBe(3);
    expect(res.setCookies.some((c) => /^miles\.sid=;/.test(c) || /Expires=Thu, 01 Jan 1970/i.test(c))).toBe(true);
    // The ended session is gone server-side: even its old cookie no longer reaches the upstream.
    const replayed = new ApiClient(svc.url);
    replayed.cookies.set('miles.sid', sid);
    expect((await replayed.get('/api/session')).json.connected).toBe(false);
    const before = svc.sandbox.callCount();
    expectProblem(await replayed.get('/api/gift/list'), 401);
    expect(svc.sandbox.callCount()).toBe(before);
  });

  it('answers 401 and ends the session when the upstream killed the token (mobile bearer)', async () => {
    const app = new ApiClient(svc.url);
    const connect = await app.connect('fault-killed-2', {}, { headers: { 'X-Session-Transport': 'token' } });
    app.bearer = connect.json.session.token;
    svc.sandbox.killUserTokens('fault-killed-2');
    const res = await app.get('/api/user/historyburns');
    expectProblem(res, 401);
    expect(res.json.upstreamErrorCode).toBe(3);
    expect((await app.get('/api/session')).json.connected).toBe(false);
    expectProblem(await app.get('/api/gift/list'), 401);
  });

  it('cannot arm a fault over HTTP: the control exists in code only', async () => {
    for (const path of ['faults', '_faults', 'sandbox/faults', '__faults/inject']) {
      const res = await fetch(new URL(path, svc.sandbox.url), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"kind":"reset"}' });
      expect(res.status).toBe(404);
    }
    expect((await api.get('/api/gift/list')).status).toBe(200);
  });
});

describe('circuit breaker', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox();
  });
  afterEach(() => sandbox.clearFaults());
  afterAll(async () => {
    await sandbox.close();
  });

  const breakerEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
    CIRCUIT_BREAKER_ENABLED: 'true',
    CIRCUIT_BREAKER_FAILURE_THRESHOLD: '3',
    CIRCUIT_BREAKER_FAILURE_RATE_PERCENT: '50',
    CIRCUIT_BREAKER_WINDOW_SECONDS: '30',
    CIRCUIT_BREAKER_OPEN_SECONDS: '2',
    APM_TIMEOUT_MS: '2000',
    ...extra,
  });

  /** Waits out an open circuit: the Retry-After it announced, then a little. */
  async function waitOut(res: ApiResponse): Promise<void> {
    await sleep(Number(res.headers.get('retry-after')) * 1000 + 100);
  }

  it('opens after repeated 5xx, answers 503 at once without calling the upstream, half-opens, and closes again', async () => {
    const svc = await startTestService({ sandbox, env: breakerEnv() });
    try {
      const api = new ApiClient(svc.url);
      await api.connect('breaker-1');
      expect((await api.get('/api/partner/getprog')).status).toBe(200);

      sandbox.injectFault({ kind: 'status', status: 503 });
      for (let i = 0; i < 3; i += 1) expectProblem(await api.get('/api/gift/list'), 502, 'ERR_UPSTREAM_FAULT');

      // Open: many requests, every route, none reaches the upstream.
      const before = sandbox.callCount();
      const refused = await Promise.all([
        ...Array.from({ length: 8 }, () => api.get('/api/gift/list')),
        ...Array.from({ length: 4 }, () => api.get('/api/user/historyearns')),
        ...Array.from({ length: 4 }, () => api.post('/api/generosity/store', { action: 'review' })),
      ]);
      for (const res of refused) {
        expectProblem(res, 503, 'ERR_UPSTREAM_CIRCUIT_OPEN');
        const retryAfter = Number(res.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(2);
      }
      expect(sandbox.callCount()).toBe(before);
      // What needs no upstream call still works: the session, the cached program.
      expect((await api.get('/api/session')).json.connected).toBe(true);
      expect((await api.get('/api/partner/getprog')).status).toBe(200);
      expect(circuitStates(await metricsText(svc))).toEqual({ closed: 0, 'half-open': 0, open: 1 });
      expect(await metricsText(svc)).toMatch(/^miles_bff_upstream_calls_total\{[^}]*outcome="circuit-open"[^}]*\} \d+/m);
      expect(svc.logs.join('')).toMatch(/upstream circuit OPEN/);

      // Half-open while the upstream still fails: one trial reaches it, fails, and the circuit opens again.
      await waitOut(refused[0]!);
      const trialBefore = sandbox.callCount();
      expectProblem(await api.get('/api/gift/list'), 502, 'ERR_UPSTREAM_FAULT');
      expect(sandbox.callCount() - trialBefore).toBe(1);
      const reopened = await api.get('/api/gift/list');
      expectProblem(reopened, 503, 'ERR_UPSTREAM_CIRCUIT_OPEN');
      expect(sandbox.callCount() - trialBefore).toBe(1);

      // The upstream is back: one slow trial at a time, the others are told to retry in 1 s.
      sandbox.clearFaults();
      await waitOut(reopened);
      sandbox.injectFault({ path: 'gift/list', kind: 'delay', ms: 1500, times: 1 });
      const probeBefore = sandbox.callCount('gift/list');
      const together = await Promise.all(Array.from({ length: 5 }, () => api.get('/api/gift/list')));
      const trials = together.filter((res) => res.status === 200);
      const held = together.filter((res) => res.status !== 200);
      expect(trials).toHaveLength(1);
      for (const res of held) {
        expectProblem(res, 503, 'ERR_UPSTREAM_CIRCUIT_OPEN');
        expect(res.headers.get('retry-after')).toBe('1');
      }
      expect(sandbox.callCount('gift/list') - probeBefore).toBe(1);

      // Closed: everything flows again, without a restart.
      const after = await Promise.all(Array.from({ length: 6 }, () => api.get('/api/gift/list')));
      for (const res of after) expect(res.status).toBe(200);
      expect(circuitStates(await metricsText(svc))).toEqual({ closed: 1, 'half-open': 0, open: 0 });
      const transitions = await metricsText(svc);
      for (const to of ['open', 'half-open', 'closed']) expect(transitions).toMatch(new RegExp(`^miles_bff_upstream_circuit_transitions_total\\{to="${to}"\\} [1-9]`, 'm'));
    } finally {
      await svc.close();
    }
  });

  it('opens after repeated timeouts too', async () => {
    const svc = await startTestService({ sandbox, env: breakerEnv({ APM_TIMEOUT_MS: '300' }) });
    try {
      const api = new ApiClient(svc.url);
      await api.connect('breaker-2');
      const start = sandbox.callCount('user/historyburns');
      sandbox.injectFault({ path: 'user/historyburns', kind: 'delay', ms: 1500 });
      for (let i = 0; i < 3; i += 1) expectProblem(await api.get('/api/user/historyburns'), 504, 'ERR_UPSTREAM_TIMEOUT');
      // The sandbox logs a call when it is done with it: wait for the three slow ones.
      while (sandbox.callCount('user/historyburns') < start + 3) await sleep(25);
      const before = sandbox.callCount('user/historyburns');
      expectProblem(await api.get('/api/user/historyburns'), 503, 'ERR_UPSTREAM_CIRCUIT_OPEN');
      await sleep(100);
      expect(sandbox.callCount('user/historyburns')).toBe(before);
    } finally {
      await svc.close();
    }
  });

  it('opens after unreadable answers and reset connections', async () => {
    const svc = await startTestService({ sandbox, env: breakerEnv() });
    try {
      const api = new ApiClient(svc.url);
      await api.connect('breaker-3');
      sandbox.injectFault({ path: 'gift/list', kind: 'garbage', times: 2 });
      sandbox.injectFault({ path: 'generosity/store', kind: 'reset', times: 1 });
      expectProblem(await api.get('/api/gift/list'), 502, 'ERR_UPSTREAM_UNREADABLE');
      expectProblem(await api.get('/api/gift/list'), 502, 'ERR_UPSTREAM_UNREADABLE');
      expectProblem(await api.post('/api/generosity/store', { action: 'review' }), 502, 'ERR_UPSTREAM_UNREACHABLE');
      expectProblem(await api.get('/api/gift/list'), 503, 'ERR_UPSTREAM_CIRCUIT_OPEN');
    } finally {
      await svc.close();
    }
  });

  it('does not count business refusals, nor refusals of our own credentials', async () => {
    const svc = await startTestService({ sandbox, env: breakerEnv() });
    const misconfigured = await startTestService({ sandbox, env: { ...breakerEnv(), APM_PARTNER_SECRET: 'not-the-partner-secret-0123456789' } });
    try {
      const api = new ApiClient(svc.url);
      await api.connect('breaker-4');
      for (let i = 0; i < 8; i += 1) {
        expect((await api.post('/api/generosity/store', { action: 'no-such-action' })).status).toBe(404);
        expect((await api.post('/api/gift/checkavailability', { giftId: 'limited_mug' })).status).toBe(409);
      }
      expect((await api.get('/api/gift/list')).status).toBe(200);

      // A wrong secret is our misconfiguration: a precise 502 every time, never a 503 that invites retries.
      const other = new ApiClient(misconfigured.url);
      for (let i = 0; i < 8; i += 1) {
        const res = await other.get('/api/partner/getprog');
        expectProblem(res, 502, 'ERR_UPSTREAM_AUTH');
        expect(res.json.upstreamErrorCode).toBe(9);
      }
      expect(circuitStates(await metricsText(misconfigured))).toEqual({ closed: 1, 'half-open': 0, open: 0 });
    } finally {
      await svc.close();
      await misconfigured.close();
    }
  });

  it('does not count input the upstream could never be sent (a lone surrogate): 400, nothing sent', async () => {
    const svc = await startTestService({ sandbox, env: breakerEnv() });
    try {
      const api = new ApiClient(svc.url);
      await api.connect('breaker-7');
      const before = sandbox.callCount('generosity/store');
      for (let i = 0; i < 8; i += 1) {
        const res = await api.post('/api/generosity/store', undefined, { rawBody: '{"action":"\\ud800"}' });
        expectProblem(res, 400, 'ERR_BAD_REQUEST');
      }
      expect(sandbox.callCount('generosity/store')).toBe(before);
      // Otherwise any visitor could open the circuit for everyone with a handful of requests.
      expect((await api.get('/api/gift/list')).status).toBe(200);
    } finally {
      await svc.close();
    }
  });

  it('refuses before sending, so the Idempotency-Key is released and a retry with it goes through once', async () => {
    const svc = await startTestService({ sandbox, env: breakerEnv() });
    try {
      const api = new ApiClient(svc.url);
      await api.connect('breaker-5');
      sandbox.injectFault({ path: 'gift/list', kind: 'status', status: 500 });
      for (let i = 0; i < 3; i += 1) await api.get('/api/gift/list');
      const stores = sandbox.callCount('generosity/store');
      const key = { 'Idempotency-Key': 'breaker-5-review-1' };
      const refused = await api.post('/api/generosity/store', { action: 'review' }, { headers: key });
      expectProblem(refused, 503, 'ERR_UPSTREAM_CIRCUIT_OPEN');
      expect(sandbox.callCount('generosity/store')).toBe(stores);

      sandbox.clearFaults();
      await waitOut(refused);
      const done = await api.post('/api/generosity/store', { action: 'review' }, { headers: key });
      expect(done.status).toBe(200);
      const replay = await api.post('/api/generosity/store', { action: 'review' }, { headers: key });
      expect(replay.status).toBe(200);
      expect(replay.text).toBe(done.text);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(sandbox.callCount('generosity/store') - stores).toBe(1);
      expect(sandbox.userPoints('breaker-5')).toBe(170);
    } finally {
      await svc.close();
    }
  });

  it('can be turned off', async () => {
    const svc = await startTestService({ sandbox, env: breakerEnv({ CIRCUIT_BREAKER_ENABLED: 'false' }) });
    try {
      const api = new ApiClient(svc.url);
      await api.connect('breaker-6');
      sandbox.injectFault({ path: 'gift/list', kind: 'status', status: 503 });
      for (let i = 0; i < 6; i += 1) expectProblem(await api.get('/api/gift/list'), 502, 'ERR_UPSTREAM_FAULT');
    } finally {
      await svc.close();
    }
  });
});
