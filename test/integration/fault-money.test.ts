import { randomBytes } from 'node:crypto';
import type { FaultRule } from '../../src/sandbox';
import { ApiClient, type ApiResponse } from '../helpers/http';
import { startTestService, type TestService } from '../helpers/service';

/**
 * Nothing lost, nothing doubled: a fault in the middle of a purchase
 * (gift/checkavailability) or an earn (generosity/store) never makes the
 * front-end believe something the upstream balance contradicts, and a retry
 * with the same Idempotency-Key never reaches the upstream a second time.
 * See docs/security.md, "When the upstream outcome is unknown".
 */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const STARTING_BALANCE = 150;
const TIMEOUT_MS = 500;

interface Mutation {
  readonly path: 'gift/checkavailability' | 'generosity/store';
  readonly body: () => Record<string, unknown>;
  readonly delta: number;
  readonly history: 'user/historyburns' | 'user/historyearns';
  readonly list: 'burns' | 'earns';
}

const mutations: readonly Mutation[] = [
  { path: 'gift/checkavailability', body: () => ({ giftId: 'coffee' }), delta: -100, history: 'user/historyburns', list: 'burns' },
  { path: 'generosity/store', body: () => ({ action: 'purchase', param1: `order-${randomBytes(4).toString('hex')}` }), delta: 50, history: 'user/historyearns', list: 'earns' },
];

interface Fault {
  readonly name: string;
  readonly rule: Omit<FaultRule, 'path' | 'times'>;
  /** Whether the sandbox applies the operation under this fault (the service cannot know). */
  readonly applied: boolean;
  /** The answer proves nothing was applied (a proxy's page without envelope): the key is released. */
  readonly notApplied?: true;
}

/** Faults after the request left: whether the upstream applied it, the front-end cannot know. */
const faults: readonly Fault[] = [
  { name: 'the connection drops after the upstream committed', rule: { kind: 'drop-after-commit' }, applied: true },
  { name: 'the answer comes after the timeout, the upstream committed first', rule: { kind: 'delay-after-commit', ms: 3 * TIMEOUT_MS }, applied: true },
  { name: 'the upstream handles it after the timeout', rule: { kind: 'delay', ms: 3 * TIMEOUT_MS }, applied: true },
  { name: 'the connection is reset before the upstream handles it', rule: { kind: 'reset' }, applied: false },
  { name: 'the upstream answer is unreadable', rule: { kind: 'garbage' }, applied: false },
];
const unknownFaults = faults;
const proxyPage: Fault = { name: 'a proxy in front of the upstream answers a 503 page', rule: { kind: 'status', status: 503 }, applied: false, notApplied: true };

describe('money-like points under upstream faults', () => {
  let svc: TestService;
  beforeAll(async () => {
    // The breaker is tested on its own (fault-upstream); here every fault must reach the idempotency layer.
    // No earn is settled by a same-key retry here: what an unknown outcome keeps (see the last describe).
    svc = await startTestService({
      env: { APM_TIMEOUT_MS: String(TIMEOUT_MS), CIRCUIT_BREAKER_FAILURE_THRESHOLD: '1000', CIRCUIT_BREAKER_CONSECUTIVE_FAILURES: '0', IDEMPOTENCY_RESOLVE_ACTIONS: 'none' },
    });
  });
  afterEach(() => svc.sandbox.clearFaults());
  afterAll(async () => {
    await svc.close();
  });

  async function newUser(label: string): Promise<{ api: ApiClient; id: string }> {
    const id = `${label}-${randomBytes(4).toString('hex')}`;
    const api = new ApiClient(svc.url);
    expect((await api.connect(id)).status).toBe(200);
    expect(svc.sandbox.userPoints(id)).toBe(STARTING_BALANCE);
    return { api, id };
  }

  /** Waits until the upstream has finished with every call of `path` sent so far (a delayed one may apply late). */
  async function settled(path: string, expectedCalls: number): Promise<void> {
    for (let i = 0; i < 200 && svc.sandbox.callCount(path) < expectedCalls; i += 1) await sleep(25);
    expect(svc.sandbox.callCount(path)).toBe(expectedCalls);
  }

  /** What the front-end reads back (balance, history) is exactly the upstream's state. */
  async function frontEndAgrees(api: ApiClient, id: string, m: Mutation): Promise<{ points: number; entries: number }> {
    const upstreamPoints = svc.sandbox.userPoints(id)!;
    const store = await api.get('/api/partner/initialcheckstore');
    expect(store.status).toBe(200);
    expect(store.json.data.user.points).toBe(upstreamPoints);
    const history = await api.get(`/api/${m.history}`);
    expect(history.status).toBe(200);
    return { points: upstreamPoints, entries: history.json.data[m.list].length };
  }

  function expectUnknownOutcome(res: ApiResponse): void {
    // Never a success nor a refusal it cannot vouch for: a problem saying the outcome is unknown.
    expect(res.status).toBe(504);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json.code).toBe('ERR_OUTCOME_UNKNOWN');
    expect(res.json.detail).toMatch(/history/);
  }

  describe.each(mutations)('$path', (m) => {
    it('a success is told with the balance the upstream holds; a retry replays it without a second call', async () => {
      const { api, id } = await newUser('ok');
      const key = { 'Idempotency-Key': `ok-${randomBytes(6).toString('hex')}` };
      const body = m.body();
      const before = svc.sandbox.callCount(m.path);
      const first = await api.post(`/api/${m.path}`, body, { headers: key });
      expect(first.status).toBe(200);
      expect(first.json.data.points).toBe(STARTING_BALANCE + m.delta);
      expect(svc.sandbox.userPoints(id)).toBe(first.json.data.points);
      const retries = await Promise.all([1, 2, 3].map(() => api.post(`/api/${m.path}`, body, { headers: key })));
      for (const r of retries) {
        expect(r.status).toBe(200);
        expect(r.text).toBe(first.text);
      }
      expect(svc.sandbox.callCount(m.path) - before).toBe(1);
      expect(await frontEndAgrees(api, id, m)).toEqual({ points: STARTING_BALANCE + m.delta, entries: 1 });
    });

    it(`when ${proxyPage.name}: nothing was applied, the key is released, and a same-key retry applies it once`, async () => {
      const { api, id } = await newUser('proxy');
      const key = { 'Idempotency-Key': `p-${randomBytes(6).toString('hex')}` };
      const body = m.body();
      const before = svc.sandbox.callCount(m.path);
      svc.sandbox.injectFault({ ...proxyPage.rule, path: m.path, times: 1 });
      const first = await api.post(`/api/${m.path}`, body, { headers: key });
      expect(first.status).toBe(502);
      expect(first.json.code).toBe('ERR_UPSTREAM_FAULT');
      expect(await frontEndAgrees(api, id, m)).toEqual({ points: STARTING_BALANCE, entries: 0 });
      const retry = await api.post(`/api/${m.path}`, body, { headers: key });
      expect(retry.status).toBe(200);
      expect(retry.json.data.points).toBe(STARTING_BALANCE + m.delta);
      expect(svc.sandbox.callCount(m.path) - before).toBe(2);
      expect(await frontEndAgrees(api, id, m)).toEqual({ points: STARTING_BALANCE + m.delta, entries: 1 });
    });

    it.each(unknownFaults)('when $name: the front-end is told the outcome is unknown, reads the truth, and the key never charges twice', async ({ rule, applied }) => {
      const { api, id } = await newUser('fault');
      const key = { 'Idempotency-Key': `f-${randomBytes(6).toString('hex')}` };
      const body = m.body();
      const before = svc.sandbox.callCount(m.path);
      svc.sandbox.injectFault({ ...rule, path: m.path, times: 1 });

      expectUnknownOutcome(await api.post(`/api/${m.path}`, body, { headers: key }));
      await settled(m.path, before + 1);
      const after = await frontEndAgrees(api, id, m);
      if (applied) expect(after).toEqual({ points: STARTING_BALANCE + m.delta, entries: 1 });
      else expect(after).toEqual({ points: STARTING_BALANCE, entries: 0 });

      // Retries with the same key, concurrent or not, replay the unknown outcome: never a second call.
      const retries = await Promise.all([1, 2, 3].map(() => api.post(`/api/${m.path}`, body, { headers: key })));
      for (const r of retries) expectUnknownOutcome(r);
      await sleep(50);
      expect(svc.sandbox.callCount(m.path) - before).toBe(1);
      expect(svc.sandbox.userPoints(id)).toBe(after.points);

      // The user, having read the history, decides: only a missing operation is sent again, with a new key.
      if (!applied) {
        const again = await api.post(`/api/${m.path}`, body, { headers: { 'Idempotency-Key': `f2-${randomBytes(6).toString('hex')}` } });
        expect(again.status).toBe(200);
        expect(again.json.data.points).toBe(STARTING_BALANCE + m.delta);
        expect(svc.sandbox.userPoints(id)).toBe(STARTING_BALANCE + m.delta);
      }
      expect((await frontEndAgrees(api, id, m)).entries).toBe(1);
    });
  });

  it('a business refusal is told as such, changes nothing, and is replayed as is', async () => {
    const { api, id } = await newUser('refusal');
    const key = { 'Idempotency-Key': `r-${randomBytes(6).toString('hex')}` };
    const before = svc.sandbox.callCount('gift/checkavailability');
    const first = await api.post('/api/gift/checkavailability', { giftId: 'weekend_trip' }, { headers: key });
    expect(first.status).toBe(409);
    expect(first.json.errorCode).toBe(4);
    const again = await api.post('/api/gift/checkavailability', { giftId: 'weekend_trip' }, { headers: key });
    expect(again.status).toBe(409);
    expect(again.text).toBe(first.text);
    expect(svc.sandbox.callCount('gift/checkavailability') - before).toBe(1);
    expect(svc.sandbox.userPoints(id)).toBe(STARTING_BALANCE);
  });

  it('concurrent requests with one key reach the upstream once, even while the first is slow', async () => {
    const { api, id } = await newUser('race');
    const key = { 'Idempotency-Key': `race-${randomBytes(6).toString('hex')}` };
    const before = svc.sandbox.callCount('gift/checkavailability');
    svc.sandbox.injectFault({ path: 'gift/checkavailability', kind: 'delay-after-commit', ms: 200, times: 1 });
    const all = await Promise.all(Array.from({ length: 6 }, () => api.post('/api/gift/checkavailability', { giftId: 'coffee' }, { headers: key })));
    const done = all.filter((r) => r.status === 200);
    expect(done.length).toBeGreaterThanOrEqual(1);
    for (const r of done) expect(r.json.data.points).toBe(STARTING_BALANCE - 100);
    for (const r of all.filter((x) => x.status !== 200)) {
      expect(r.status).toBe(409);
      expect(r.headers.get('retry-after')).toBeTruthy();
    }
    await settled('gift/checkavailability', before + 1);
    expect(svc.sandbox.userPoints(id)).toBe(STARTING_BALANCE - 100);
    const late = await api.post('/api/gift/checkavailability', { giftId: 'coffee' }, { headers: key });
    expect(late.status).toBe(200);
    expect(late.json.data.points).toBe(STARTING_BALANCE - 100);
    expect(svc.sandbox.callCount('gift/checkavailability') - before).toBe(1);
  });

  it('without an Idempotency-Key, a lost answer is an error, never a success, and the service does not resend', async () => {
    const { api, id } = await newUser('nokey');
    const before = svc.sandbox.callCount('gift/checkavailability');
    svc.sandbox.injectFault({ path: 'gift/checkavailability', kind: 'drop-after-commit', times: 1 });
    const res = await api.post('/api/gift/checkavailability', { giftId: 'coffee' });
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    await settled('gift/checkavailability', before + 1);
    // The purchase went through upstream; the front-end, told of an error, reads it back.
    const { points, entries } = await frontEndAgrees(api, id, mutations[0]!);
    expect(points).toBe(STARTING_BALANCE - 100);
    expect(entries).toBe(1);
  });

  describe('an earn with a unique param1 (IDEMPOTENCY_RESOLVE_ACTIONS=auto, the default)', () => {
    let settling: TestService;
    beforeAll(async () => {
      settling = await startTestService({ sandbox: svc.sandbox, env: { APM_TIMEOUT_MS: String(TIMEOUT_MS), CIRCUIT_BREAKER_FAILURE_THRESHOLD: '1000', CIRCUIT_BREAKER_CONSECUTIVE_FAILURES: '0' } });
    });
    afterAll(async () => {
      await settling.close();
    });

    it.each(unknownFaults)('when $name: the same-key retry settles it, credited exactly once', async ({ rule, applied }) => {
      const m = mutations[1]!;
      const id = `settle-${randomBytes(4).toString('hex')}`;
      const api = new ApiClient(settling.url);
      expect((await api.connect(id)).status).toBe(200);
      const key = { 'Idempotency-Key': `s-${randomBytes(6).toString('hex')}` };
      const body = m.body();
      const before = svc.sandbox.callCount(m.path);
      svc.sandbox.injectFault({ ...rule, path: m.path, times: 1 });
      expectUnknownOutcome(await api.post(`/api/${m.path}`, body, { headers: key }));
      await settled(m.path, before + 1);

      const retry = await api.post(`/api/${m.path}`, body, { headers: key });
      expect(retry.status).toBe(200);
      expect(retry.json.errorCode).toBe(0);
      if (applied) expect(retry.json.data).toEqual({ alreadyApplied: true, ...body });
      else expect(retry.json.data.points).toBe(STARTING_BALANCE + m.delta);
      expect(svc.sandbox.userPoints(id)).toBe(STARTING_BALANCE + m.delta);
      // Settled for good: every further retry replays it, no more calls.
      const replays = await Promise.all([1, 2, 3].map(() => api.post(`/api/${m.path}`, body, { headers: key })));
      for (const r of replays) expect([r.status, r.text]).toEqual([200, retry.text]);
      expect(svc.sandbox.callCount(m.path) - before).toBe(2);
      const history = await api.get('/api/user/historyearns');
      expect(history.json.data.earns).toHaveLength(1);
    });
  });
});
