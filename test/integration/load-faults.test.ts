import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FaultRule, Sandbox } from '../../src/sandbox';
import { ApiClient } from '../helpers/http';
import { dropPrefix, uniquePrefix } from '../helpers/redis';
import { startTestSandbox, startTestService, type TestService } from '../helpers/service';

/**
 * Two replicas on one Redis under concurrent load while the upstream flaps,
 * and one replica is stopped gracefully (what SIGTERM does) in the middle.
 *
 * The driver plays the load balancer: it sends only to replicas whose
 * /readyz answers 200, and sends a request again elsewhere only when its
 * connection was refused before any replica saw it. Then:
 * - no request a replica received goes unanswered;
 * - every answer is correct (a success or a business refusal of the right
 *   shape) or a clear error (problem+json; 503 with Retry-After);
 * - nothing doubled: no Idempotency-Key reaches the upstream twice, every
 *   success told to the front-end is in the upstream history, and the
 *   balance the front-end reads is the upstream's.
 */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Replica {
  readonly name: string;
  readonly svc: TestService;
  /** X-Request-Id of every request this replica's HTTP server received. */
  readonly seen: Set<string>;
  ready: boolean;
}

interface Outcome {
  readonly requestId: string;
  readonly replica: string;
  readonly method: string;
  readonly route: string;
  readonly status: number | 'transport' | 'hang';
  readonly contentType: string | null;
  readonly retryAfter: string | null;
  readonly text: string;
  readonly error?: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

interface Operation {
  readonly user: string;
  readonly route: string;
  readonly key: string;
  readonly answers: Outcome[];
}

describe('two replicas under load while the upstream flaps and one replica stops', () => {
  let sandbox: Sandbox;
  const prefix = uniquePrefix('load');
  let replicas: Replica[];
  const outcomes: Outcome[] = [];
  const refusedAtTheDoor: Outcome[] = [];
  const operations: Operation[] = [];
  const users: Array<{ id: string; cookie: string }> = [];
  let stopOfB: Promise<void> | undefined;
  let stopTraffic: (() => Promise<void>) | undefined;

  const env = {
    APM_TIMEOUT_MS: '400',
    RATE_LIMIT_IP_MAX: '1000000',
    RATE_LIMIT_MUTATION_MAX: '1000000',
    CIRCUIT_BREAKER_OPEN_SECONDS: '1',
  };

  beforeAll(async () => {
    sandbox = await startTestSandbox();
    replicas = [];
    for (const name of ['A', 'B']) {
      const svc = await startTestService({ sandbox, prefix, env });
      const seen = new Set<string>();
      svc.running.publicServer.on('request', (req: IncomingMessage) => {
        const id = req.headers['x-request-id'];
        if (typeof id === 'string') seen.add(id);
      });
      replicas.push({ name, svc, seen, ready: true });
    }
    for (let i = 0; i < 8; i += 1) {
      const id = `load-${i}-${randomBytes(3).toString('hex')}`;
      const api = new ApiClient(replicas[i % 2]!.svc.url);
      expect((await api.connect(id)).status).toBe(200);
      users.push({ id, cookie: [...api.cookies].map(([k, v]) => `${k}=${v}`).join('; ') });
    }
  });
  afterAll(async () => {
    // A failed assertion must not leave the traffic running.
    await stopTraffic?.();
    await stopOfB?.catch(() => undefined);
    for (const r of replicas ?? []) await r.svc.close().catch(() => undefined);
    await sandbox?.close();
    await dropPrefix(prefix);
  });

  let rr = 0;
  function pickReplica(exclude: ReadonlySet<string>): Replica | undefined {
    const candidates = replicas.filter((r) => r.ready && !exclude.has(r.name));
    if (candidates.length === 0) return undefined;
    rr += 1;
    return candidates[rr % candidates.length];
  }

  /** One request through the "load balancer": answered, or refused at the door and sent elsewhere. */
  async function send(user: { cookie: string }, method: 'GET' | 'POST', route: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<Outcome> {
    const tried = new Set<string>();
    for (let attempt = 0; ; attempt += 1) {
      let replica = pickReplica(tried) ?? pickReplica(new Set());
      // None ready for now (a loaded machine may be slow to answer /readyz): wait, as a load balancer would.
      for (let waited = 0; !replica && waited < 10_000; waited += 50) {
        await sleep(50);
        replica = pickReplica(new Set());
      }
      if (!replica) throw new Error('no replica was ready for 10 s');
      tried.add(replica.name);
      const requestId = `lr-${randomBytes(8).toString('hex')}`;
      const headers: Record<string, string> = { Cookie: user.cookie, 'X-Request-Id': requestId, ...extraHeaders };
      if (method === 'POST') Object.assign(headers, { 'Content-Type': 'application/json', 'X-CSRF': '1' });
      let outcome: Outcome;
      const startedAt = Date.now();
      try {
        const res = await fetch(`${replica.svc.url}${route}`, {
          method,
          headers,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(10_000),
        });
        outcome = { requestId, replica: replica.name, method, route, status: res.status, contentType: res.headers.get('content-type'), retryAfter: res.headers.get('retry-after'), text: await res.text(), startedAt, endedAt: Date.now() };
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        const hang = (err as Error).name === 'TimeoutError';
        outcome = { requestId, replica: replica.name, method, route, status: hang ? 'hang' : 'transport', contentType: null, retryAfter: null, text: '', error: `${cause?.code ?? ''} ${cause?.message ?? String(err)}`, startedAt, endedAt: Date.now() };
      }
      const seen = replicas.some((r) => r.seen.has(requestId));
      if (outcome.status === 'transport' && !seen && attempt < 3) {
        // No replica ever saw it: a refused or reset connection, which a load balancer sends elsewhere.
        refusedAtTheDoor.push(outcome);
        continue;
      }
      outcomes.push(outcome);
      return outcome;
    }
  }

  /** A mutation with an Idempotency-Key; retried once with the same key after an unclear answer. */
  async function mutate(user: { id: string; cookie: string }, route: string, body: Record<string, unknown>): Promise<void> {
    const op: Operation = { user: user.id, route, key: `lk-${randomBytes(8).toString('hex')}`, answers: [] };
    operations.push(op);
    const first = await send(user, 'POST', route, body, { 'Idempotency-Key': op.key });
    op.answers.push(first);
    if (typeof first.status === 'number' && (first.status >= 500 || (first.status === 409 && /problem/.test(first.contentType ?? '')))) {
      await sleep(first.retryAfter ? Math.min(Number(first.retryAfter), 1) * 1000 : 100);
      op.answers.push(await send(user, 'POST', route, body, { 'Idempotency-Key': op.key }));
    }
  }

  async function virtualUser(user: { id: string; cookie: string }, until: () => boolean, n: number): Promise<void> {
    for (let i = n; !until(); i += 1) {
      switch (i % 6) {
        case 0:
          await send(user, 'GET', '/api/partner/getprog');
          break;
        case 1:
          await send(user, 'GET', '/api/gift/list');
          break;
        case 2:
          await mutate(user, '/api/generosity/store', { action: 'purchase', param1: `o-${randomBytes(4).toString('hex')}` });
          break;
        case 3:
          await send(user, 'GET', '/api/session');
          break;
        case 4:
          await mutate(user, '/api/gift/checkavailability', { giftId: 'coffee' });
          break;
        default:
          await send(user, 'GET', '/api/user/historyearns');
      }
      await sleep(10);
    }
  }

  /** The upstream flaps: a fault for a while, then healthy, over and over. */
  async function flap(until: () => boolean): Promise<void> {
    // Each fault hits every call of its paths while it lasts.
    const rules: Array<FaultRule> = [
      { kind: 'status', status: 503 },
      { kind: 'delay', ms: 1000 },
      { path: 'generosity/store', kind: 'drop-after-commit' },
      { kind: 'reset' },
      { path: 'gift/checkavailability', kind: 'delay-after-commit', ms: 1000 },
      { kind: 'garbage' },
    ];
    for (let i = 0; !until(); i += 1) {
      sandbox.injectFault(rules[i % rules.length]!);
      await sleep(120);
      sandbox.clearFaults();
      await sleep(200);
    }
    sandbox.clearFaults();
  }

  async function watchReadiness(until: () => boolean): Promise<void> {
    while (!until()) {
      await Promise.all(
        replicas.map(async (r) => {
          try {
            r.ready = (await fetch(`${r.svc.internalUrl}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200;
          } catch {
            r.ready = false;
          }
        }),
      );
      await sleep(100);
    }
  }

  it('loses no request, answers each correctly or with a clear error, and never charges twice', async () => {
    let loadOver = false;
    let faultsOver = false;
    const watcher = watchReadiness(() => loadOver);
    let flapper = flap(() => faultsOver);
    const load = Promise.all(users.map((u, n) => virtualUser(u, () => loadOver, n)));
    stopTraffic = async () => {
      loadOver = true;
      faultsOver = true;
      await Promise.allSettled([load, watcher, flapper]);
    };

    await sleep(1500);
    // A healthy moment to catch B with requests in flight: its circuit closes again, then four slow reads start.
    faultsOver = true;
    await flapper;
    const b = replicas[1]!;
    const who = { cookie: users[0]!.cookie };
    for (let i = 0; i < 100 && (await sendTo(b, who, '/api/user/historyburns')).status !== 200; i += 1) await sleep(100);
    sandbox.injectFault({ path: 'user/historyburns', kind: 'delay', ms: 300 });
    const inFlight = Array.from({ length: 4 }, () => sendDirect(b, who, '/api/user/historyburns'));
    for (let i = 0; i < 200 && inFlight.some((f) => !b.seen.has(f.requestId)); i += 1) await sleep(5);
    expect(inFlight.every((f) => b.seen.has(f.requestId))).toBe(true);

    // SIGTERM of replica B, in process: readiness off, in-flight requests finish, new ones refused; the upstream flaps on.
    faultsOver = false;
    flapper = flap(() => faultsOver);
    const drainStarted = Date.now();
    stopOfB = b.svc.running.stop(5000);
    await stopOfB;
    b.ready = false;
    for (const f of await Promise.all(inFlight.map((x) => x.outcome))) {
      // Answered during the drain: normally 200; a 504 if a starved test machine made them outlast APM_TIMEOUT_MS.
      expect({ route: f.route, answered: f.status === 200 || f.status === 504, drained: f.endedAt >= drainStarted }).toEqual({ route: f.route, answered: true, drained: true });
    }
    await sleep(1500);
    faultsOver = true;
    await flapper;
    // Let replica A's circuit close (open 1 s) and finish under a healthy upstream.
    await sleep(1500);
    loadOver = true;
    await load;
    await watcher;

    // Enough traffic, on both replicas, before and after the stop.
    expect(outcomes.length).toBeGreaterThan(80);
    expect(outcomes.filter((o) => o.replica === 'B').length).toBeGreaterThan(8);

    // 1. Nothing lost: every request a replica received was answered, none hung.
    const unanswered = outcomes.filter((o) => typeof o.status !== 'number');
    expect(unanswered.map((o) => `${o.replica} ${o.method} ${o.route} ${String(o.status)} ${o.error ?? ''}`)).toEqual([]);
    for (const o of refusedAtTheDoor) expect(replicas.some((r) => r.seen.has(o.requestId))).toBe(false);

    // 2. Correct, or a clear error.
    const bad: string[] = [];
    for (const o of outcomes) {
      const status = o.status as number;
      const label = `${o.replica} ${o.method} ${o.route} -> ${status}: ${o.text.slice(0, 160)}`;
      const problem = /^application\/problem\+json/.test(o.contentType ?? '');
      let json: { errorCode?: number; connected?: boolean; data?: unknown; code?: string } | undefined;
      try {
        json = JSON.parse(o.text) as typeof json;
      } catch {
        json = undefined;
      }
      if (!json) bad.push(`not JSON: ${label}`);
      else if (status === 200) {
        if (o.route === '/api/session' ? json.connected !== true : json.errorCode !== 0 || json.data === undefined) bad.push(`wrong success: ${label}`);
      } else if (status === 409 && !problem) {
        if (![4, 5, 7].includes(json.errorCode ?? -1)) bad.push(`wrong refusal: ${label}`);
      } else if (!problem) bad.push(`error without problem+json: ${label}`);
      else if (![409, 502, 503, 504].includes(status)) bad.push(`unexpected status: ${label}`);
      else if (status === 503 && !(Number(o.retryAfter) > 0)) bad.push(`503 without Retry-After: ${label}`);
    }
    expect(bad).toEqual([]);
    // The faults did happen, and were answered as such.
    expect(outcomes.some((o) => o.status === 502 || o.status === 504)).toBe(true);

    // 3. Nothing doubled: an Idempotency-Key is applied upstream at most once. It may reach the upstream
    // again only when the first call provably applied nothing (a proxy's 503 page) or to settle an earn's
    // unknown outcome, which the upstream refuses as a duplicate (errorCode 7) if the first was applied.
    const calls = sandbox.calls;
    const requestIdsOf = (op: Operation): Set<string> => new Set(op.answers.map((a) => a.requestId));
    for (const op of operations) {
      const ids = requestIdsOf(op);
      const applied = calls.filter((c) => `/api/${c.path}` === op.route && ids.has(c.headers['x-request-id'] ?? '') && c.errorCode === 0);
      expect({ key: op.key, applied: Math.min(applied.length, 2) }).toEqual({ key: op.key, applied: Math.min(applied.length, 1) });
    }
    expect(operations.some((op) => op.answers.length === 2)).toBe(true);

    // 4. What the front-end was told agrees with the upstream.
    const a = replicas[0]!;
    for (const user of users) {
      const who = { cookie: user.cookie };
      const store = JSON.parse((await sendTo(a, who, '/api/partner/initialcheckstore')).text) as { data: { user: { points: number } } };
      expect(store.data.user.points).toBe(sandbox.userPoints(user.id));
      const earns = JSON.parse((await sendTo(a, who, '/api/user/historyearns?limit=100')).text) as { data: { earns: Array<{ earnId: string }> } };
      const burns = JSON.parse((await sendTo(a, who, '/api/user/historyburns?limit=100')).text) as { data: { burns: Array<{ burnId: string }> } };
      const earnIds = new Set(earns.data.earns.map((e) => e.earnId));
      const burnIds = new Set(burns.data.burns.map((b) => b.burnId));
      let told = 0;
      for (const op of operations.filter((o) => o.user === user.id)) {
        const success = op.answers.find((x) => x.status === 200);
        if (!success) continue;
        told += 1;
        const data = (JSON.parse(success.text) as { data: { earn?: { earnId: string }; burn?: { burnId: string } } }).data;
        if (data.earn) expect(earnIds.has(data.earn.earnId)).toBe(true);
        if (data.burn) expect(burnIds.has(data.burn.burnId)).toBe(true);
      }
      // Every success told is upstream; upstream may hold more only for keys whose outcome was unknown.
      const unknown = operations.filter((o) => o.user === user.id && !o.answers.some((x) => x.status === 200) && o.answers.some((x) => x.status === 504)).length;
      expect(earnIds.size + burnIds.size).toBeGreaterThanOrEqual(told);
      expect(earnIds.size + burnIds.size).toBeLessThanOrEqual(told + unknown);
    }

    // 5. The replica left running answers normally once the upstream is healthy again.
    const after = await sendTo(a, { cookie: users[0]!.cookie }, '/api/gift/list');
    expect(after.status).toBe(200);
  });

  /** A request straight to one replica (no load balancer), recorded with the others. */
  function sendDirect(replica: Replica, who: { cookie: string }, route: string): { requestId: string; outcome: Promise<Outcome> } {
    const requestId = `ld-${randomBytes(8).toString('hex')}`;
    const startedAt = Date.now();
    const outcome = fetch(`${replica.svc.url}${route}`, { headers: { Cookie: who.cookie, 'X-Request-Id': requestId }, signal: AbortSignal.timeout(10_000) }).then(
      async (res): Promise<Outcome> => ({ requestId, replica: replica.name, method: 'GET', route, status: res.status, contentType: res.headers.get('content-type'), retryAfter: res.headers.get('retry-after'), text: await res.text(), startedAt, endedAt: Date.now() }),
      (err: unknown): Outcome => ({ requestId, replica: replica.name, method: 'GET', route, status: 'transport', contentType: null, retryAfter: null, text: '', error: String(err), startedAt, endedAt: Date.now() }),
    );
    void outcome.then((o) => outcomes.push(o));
    return { requestId, outcome };
  }

  async function sendTo(replica: Replica, who: { cookie: string }, route: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`${replica.svc.url}${route}`, { headers: { Cookie: who.cookie } });
    return { status: res.status, text: await res.text() };
  }
});
