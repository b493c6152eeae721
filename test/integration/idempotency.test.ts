import type { Metrics } from '../../src/observability/metrics';
import type { Sandbox } from '../../src/sandbox';
import { ApiClient, type ApiResponse } from '../helpers/http';
import { startTestService, type TestService, startReplicaPair, type ReplicaPair } from '../helpers/service';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let keySeq = 0;
const newKey = (): string => `key-${process.pid}-${Date.now()}-${(keySeq += 1)}`;

async function idempotencyCount(metrics: Metrics, result: string): Promise<number> {
  const { values } = await metrics.idempotency.get();
  return values.find((v) => v.labels.result === result)?.value ?? 0;
}

async function eventually(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    if (await cond()) return;
    await sleep(25);
  }
  throw new Error(`never happened: ${what}`);
}

const store = (api: ApiClient, key: string | undefined, body: Record<string, unknown>): Promise<ApiResponse> =>
  api.post('/api/generosity/store', body, key === undefined ? {} : { headers: { 'Idempotency-Key': key } });
const buy = (api: ApiClient, key: string, giftId: string): Promise<ApiResponse> =>
  api.post('/api/gift/checkavailability', { giftId }, { headers: { 'Idempotency-Key': key } });

describe('Idempotency-Key on one replica', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { APM_TIMEOUT_MS: '15000' } });
  });
  afterAll(async () => {
    await svc.close();
  });
  afterEach(() => svc.sandbox.clearFaults());

  it('a repeat replays the first answer (same status and body) and never reaches the upstream again', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('idem-replay');
    const points = svc.sandbox.userPoints('idem-replay')!;
    const before = svc.sandbox.callCount('generosity/store');
    const key = newKey();
    const first = await store(api, key, { action: 'purchase', param1: 'order-replay-1' });
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await store(api, key, { action: 'purchase', param1: 'order-replay-1' });
    expect(again.status).toBe(first.status);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(svc.sandbox.callCount('generosity/store') - before).toBe(1);
    expect(svc.sandbox.userPoints('idem-replay')).toBe(points + 50);
  });

  it('replays a business refusal with its status', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('idem-refusal');
    const key = newKey();
    const first = await buy(api, key, 'weekend_trip');
    expect(first.status).toBe(409);
    expect(first.json.errorCode).not.toBe(0);
    const before = svc.sandbox.callCount('gift/checkavailability');
    const again = await buy(api, key, 'weekend_trip');
    expect([again.status, again.text]).toEqual([first.status, first.text]);
    expect(svc.sandbox.callCount('gift/checkavailability')).toBe(before);
  });

  it('a repeat while the first is in flight gets 409 with Retry-After; after it, the replay', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('idem-inflight');
    const key = newKey();
    const before = svc.sandbox.callCount('generosity/store');
    const firstClaims = await idempotencyCount(svc.app.metrics, 'first');
    svc.sandbox.injectFault({ path: 'generosity/store', kind: 'delay', ms: 1500, times: 1 });
    const first = store(api, key, { action: 'review' });
    await eventually(async () => (await idempotencyCount(svc.app.metrics, 'first')) > firstClaims, 'the first request claimed the key');
    const repeats = await Promise.all(Array.from({ length: 5 }, () => store(api, key, { action: 'review' })));
    for (const r of repeats) {
      expect(r.status).toBe(409);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.json.code).toBe('ERR_IDEMPOTENCY_IN_FLIGHT');
      expect(r.headers.get('retry-after')).toBe('1');
    }
    const done = await first;
    expect(done.status).toBe(200);
    const replay = await store(api, key, { action: 'review' });
    expect([replay.status, replay.text]).toEqual([200, done.text]);
    expect(svc.sandbox.callCount('generosity/store') - before).toBe(1);
  });

  it('20 concurrent requests with one key reach the upstream once', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('idem-burst');
    const key = newKey();
    const before = svc.sandbox.callCount('generosity/store');
    const answers = await Promise.all(Array.from({ length: 20 }, () => store(api, key, { action: 'purchase', param1: 'order-burst' })));
    const firsts = answers.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') === null);
    expect(firsts).toHaveLength(1);
    for (const r of answers) {
      if (r.status === 200) expect(r.text).toBe(firsts[0]!.text);
      else expect(r.status).toBe(409);
    }
    expect(svc.sandbox.callCount('generosity/store') - before).toBe(1);
  });

  it('the same key with another body is 422, and nothing is sent', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('idem-mismatch');
    const key = newKey();
    expect((await store(api, key, { action: 'purchase', param1: 'order-a' })).status).toBe(200);
    const before = svc.sandbox.callCount('generosity/store');
    const other = await store(api, key, { action: 'purchase', param1: 'order-b' });
    expect(other.status).toBe(422);
    expect(other.json.code).toBe('ERR_IDEMPOTENCY_KEY_REUSED');
    expect(svc.sandbox.callCount('generosity/store')).toBe(before);
  });

  it('scopes keys to the user: two users may use the same key', async () => {
    const alice = new ApiClient(svc.url);
    const bob = new ApiClient(svc.url);
    await alice.connect('idem-scope-alice');
    await bob.connect('idem-scope-bob');
    const key = newKey();
    const before = svc.sandbox.callCount('generosity/store');
    expect((await store(alice, key, { action: 'newsletter_signup' })).status).toBe(200);
    const fromBob = await store(bob, key, { action: 'newsletter_signup' });
    expect(fromBob.status).toBe(200);
    expect(fromBob.headers.get('idempotent-replayed')).toBeNull();
    expect(svc.sandbox.callCount('generosity/store') - before).toBe(2);
  });

  it('refuses a malformed key with 400, upstream untouched', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('idem-malformed');
    const before = svc.sandbox.callCount('generosity/store');
    expect((await store(api, 'x'.repeat(129), { action: 'review' })).status).toBe(400);
    expect((await store(api, 'has space', { action: 'review' })).status).toBe(400);
    expect(svc.sandbox.callCount('generosity/store')).toBe(before);
  });

  it('without a key, a repeat is a new call', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('idem-none');
    const before = svc.sandbox.callCount('generosity/store');
    await store(api, undefined, { action: 'review' });
    await store(api, undefined, { action: 'review' });
    expect(svc.sandbox.callCount('generosity/store') - before).toBe(2);
  });

  it('outcome unknown (the connection drops after the upstream committed): 504, the key is spent, the user charged once', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('idem-unknown');
    const start = svc.sandbox.userPoints('idem-unknown')!;
    const key = newKey();
    svc.sandbox.injectFault({ path: 'gift/checkavailability', kind: 'drop-after-commit', times: 1 });
    const first = await buy(api, key, 'coffee');
    expect(first.status).toBe(504);
    expect(first.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(first.json.code).toBe('ERR_OUTCOME_UNKNOWN');
    expect(first.json.detail).toMatch(/check the history/);
    // The upstream did apply it.
    expect(svc.sandbox.userPoints('idem-unknown')).toBe(start - 100);
    const calls = svc.sandbox.callCount('gift/checkavailability');

    const retry = await buy(api, key, 'coffee');
    expect([retry.status, retry.text]).toEqual([504, first.text]);
    expect(svc.sandbox.callCount('gift/checkavailability')).toBe(calls);
    expect(svc.sandbox.userPoints('idem-unknown')).toBe(start - 100);

    // What the detail tells the user to do: the history shows the purchase.
    const history = await api.get('/api/user/historyburns');
    expect(history.status).toBe(200);
    expect(history.text).toContain('coffee');
  });

  it('a 503 page without an envelope (a proxy in front of the upstream) applied nothing: the key is released and a same-key retry credits once', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('idem-proxy-503');
    const start = svc.sandbox.userPoints('idem-proxy-503')!;
    const key = newKey();
    svc.sandbox.injectFault({ path: 'generosity/store', kind: 'status', status: 503, times: 1 });
    const first = await store(api, key, { action: 'review' });
    expect(first.status).toBe(502);
    expect(first.json.code).toBe('ERR_UPSTREAM_FAULT');
    expect(svc.sandbox.userPoints('idem-proxy-503')).toBe(start);
    const retry = await store(api, key, { action: 'review' });
    expect(retry.status).toBe(200);
    expect(retry.json.data.points).toBe(start + 20);
    expect(svc.sandbox.userPoints('idem-proxy-503')).toBe(start + 20);
  });

  it('a 500 page keeps the outcome unknown (the upstream may have failed after applying it)', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('idem-proxy-500');
    const key = newKey();
    svc.sandbox.injectFault({ path: 'gift/checkavailability', kind: 'status', status: 500, times: 1 });
    const first = await buy(api, key, 'coffee');
    expect(first.status).toBe(504);
    expect(first.json.code).toBe('ERR_OUTCOME_UNKNOWN');
    const calls = svc.sandbox.callCount('gift/checkavailability');
    expect((await buy(api, key, 'coffee')).status).toBe(504);
    expect(svc.sandbox.callCount('gift/checkavailability')).toBe(calls);
  });

  it('an earn with a unique param1 whose outcome is unknown is settled by a same-key retry: applied → the success it was, once', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('idem-resolve-applied');
    const start = svc.sandbox.userPoints('idem-resolve-applied')!;
    const key = newKey();
    const body = { action: 'purchase', param1: 'order-resolve-1' };
    svc.sandbox.injectFault({ path: 'generosity/store', kind: 'drop-after-commit', times: 1 });
    const first = await store(api, key, body);
    expect(first.status).toBe(504);
    expect(first.json.code).toBe('ERR_OUTCOME_UNKNOWN');
    expect(svc.sandbox.userPoints('idem-resolve-applied')).toBe(start + 50);

    const retry = await store(api, key, body);
    expect(retry.status).toBe(200);
    expect(retry.json).toEqual({ errorCode: 0, errorMsg: 'ok', data: { alreadyApplied: true, action: 'purchase', param1: 'order-resolve-1' } });
    expect(svc.sandbox.userPoints('idem-resolve-applied')).toBe(start + 50);
    const calls = svc.sandbox.callCount('generosity/store');
    const again = await store(api, key, body);
    expect([again.status, again.text, again.headers.get('idempotent-replayed')]).toEqual([200, retry.text, 'true']);
    expect(svc.sandbox.callCount('generosity/store')).toBe(calls);
  });

  it('… not applied → the normal answer of the request sent again, credited once', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('idem-resolve-not-applied');
    const start = svc.sandbox.userPoints('idem-resolve-not-applied')!;
    const key = newKey();
    const body = { action: 'purchase', param1: 'order-resolve-2' };
    // The connection is cut before the upstream handled the request: nothing applied, but we cannot know.
    svc.sandbox.injectFault({ path: 'generosity/store', kind: 'reset', times: 1 });
    const first = await store(api, key, body);
    expect(first.status).toBe(504);
    expect(svc.sandbox.userPoints('idem-resolve-not-applied')).toBe(start);
    const retry = await store(api, key, body);
    expect(retry.status).toBe(200);
    expect(retry.json.data.earn).toMatchObject({ action: 'purchase', param1: 'order-resolve-2', points: 50 });
    expect(retry.json.data.points).toBe(start + 50);
    expect(svc.sandbox.userPoints('idem-resolve-not-applied')).toBe(start + 50);
  });

  it('an earn with a per-user limit keeps its 504 (its errorCode 7 would prove nothing); the history tells whether it was applied', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('idem-resolve-limited');
    const start = svc.sandbox.userPoints('idem-resolve-limited')!;
    const key = newKey();
    const body = { action: 'review', param1: 'product-42' };
    svc.sandbox.injectFault({ path: 'generosity/store', kind: 'drop-after-commit', times: 1 });
    const first = await store(api, key, body);
    expect(first.status).toBe(504);
    const calls = svc.sandbox.callCount('generosity/store');
    expect((await store(api, key, body)).status).toBe(504);
    expect(svc.sandbox.callCount('generosity/store')).toBe(calls);
    // What the 504's detail tells the client to do: the earn is in the history, with its param1.
    const history = await api.get('/api/user/historyearns?limit=100');
    expect(history.status).toBe(200);
    const earns = history.json.data.earns as { action: string; param1?: string }[];
    expect(earns.filter((e) => e.action === 'review' && e.param1 === 'product-42')).toHaveLength(1);
    expect(svc.sandbox.userPoints('idem-resolve-limited')).toBe(start + 20);
  });

  it('outcome unknown after a timeout: 504, and the retry never reaches the upstream', async () => {
    const quick = await startTestService({ env: { APM_TIMEOUT_MS: '300' } });
    try {
      const api = new ApiClient(quick.url);
      await api.connect('idem-timeout');
      const key = newKey();
      quick.sandbox.injectFault({ path: 'generosity/store', kind: 'delay-after-commit', ms: 1500, times: 1 });
      const first = await store(api, key, { action: 'review' });
      expect(first.status).toBe(504);
      expect(first.json.code).toBe('ERR_OUTCOME_UNKNOWN');
      await eventually(() => quick.sandbox.callCount('generosity/store') === 1, 'the delayed answer was sent');
      const retry = await store(api, key, { action: 'review' });
      expect([retry.status, retry.text]).toEqual([504, first.text]);
      expect(quick.sandbox.callCount('generosity/store')).toBe(1);
    } finally {
      quick.sandbox.clearFaults();
      await quick.close();
    }
  });
});

describe('Idempotency-Key across two replicas', () => {
  let sandbox: Sandbox;
  let a: TestService;
  let b: TestService;
  let pair: ReplicaPair;
  beforeAll(async () => {
    pair = await startReplicaPair({ label: 'idem2', env: { APM_TIMEOUT_MS: '15000' } });
    ({ sandbox, a, b } = pair);
  });
  afterAll(() => pair.close());
  afterEach(() => sandbox.clearFaults());

  it('a repeat on the other replica while the first is in flight gets 409, then the replay; one upstream call', async () => {
    const onA = new ApiClient(a.url);
    await onA.connect('idem-two-replicas');
    const onB = new ApiClient(b.url);
    for (const [k, v] of onA.cookies) onB.cookies.set(k, v);
    const key = newKey();
    sandbox.injectFault({ path: 'gift/checkavailability', kind: 'delay', ms: 1500, times: 1 });
    const first = buy(onA, key, 'coffee');
    await eventually(async () => (await idempotencyCount(a.app.metrics, 'first')) === 1, 'replica A claimed the key');
    const during = await buy(onB, key, 'coffee');
    expect(during.status).toBe(409);
    const done = await first;
    expect(done.status).toBe(200);
    const after = await buy(onB, key, 'coffee');
    expect([after.status, after.text]).toEqual([200, done.text]);
    expect(sandbox.callCount('gift/checkavailability')).toBe(1);
    expect(sandbox.userPoints('idem-two-replicas')).toBe(50);
  });

  it('concurrent requests with one key spread over both replicas reach the upstream once', async () => {
    const onA = new ApiClient(a.url);
    await onA.connect('idem-two-burst');
    const onB = new ApiClient(b.url);
    for (const [k, v] of onA.cookies) onB.cookies.set(k, v);
    const key = newKey();
    const before = sandbox.callCount('generosity/store');
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => store(i % 2 ? onA : onB, key, { action: 'purchase', param1: 'order-two' })));
    expect(answers.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    expect(answers.every((r) => r.status === 200 || r.status === 409)).toBe(true);
    expect(sandbox.callCount('generosity/store') - before).toBe(1);
  });
});
