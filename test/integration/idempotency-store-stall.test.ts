import { createClient } from 'redis';
import { ApiClient, type ApiResponse } from '../helpers/http';
import { serviceOnOwnRedis } from '../helpers/service';

/**
 * A Redis that stops applying writes for a while (`CLIENT PAUSE … WRITE`: what a Sentinel or
 * Cluster failover, or a slow fork, does) while idempotent mutations arrive. Each is refused with
 * 503 before anything is sent; the claim Redis applies late must not lock the key: a retry with
 * the same key, as the 503's Retry-After says, goes through, and the upstream sees each once.
 * A Redis of the test's own: pausing the shared one would stall every other test.
 */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const PAUSE_MS = 3000;

describe('Idempotency-Key through a Redis write stall', () => {
  const own = serviceOnOwnRedis({ RATE_LIMIT_ENABLED: 'false' });

  async function pauseWrites(ms: number): Promise<void> {
    const admin = createClient({ url: own.redis.url });
    admin.on('error', () => undefined);
    await admin.connect();
    try {
      await admin.sendCommand(['CLIENT', 'PAUSE', String(ms), 'WRITE']);
    } finally {
      await admin.close();
    }
  }

  it('a store refusal (503) never locks the key: every same-key retry proceeds, and the upstream sees each action once', async () => {
    const api = new ApiClient(own.svc.url);
    expect((await api.connect('stall-user')).status).toBe(200);
    const start = own.svc.sandbox.userPoints('stall-user')!;
    const before = own.svc.sandbox.callCount('generosity/store');
    const keys = Array.from({ length: 20 }, (_, i) => `stall-${process.pid}-${i}`);
    const send = (key: string, i: number): Promise<ApiResponse> =>
      api.post('/api/generosity/store', { action: 'purchase', param1: `stall-order-${i}` }, { headers: { 'Idempotency-Key': key } });

    await pauseWrites(PAUSE_MS);
    const refused = await Promise.all(keys.map(send));
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(r.json.code).toBe('ERR_STORE_UNAVAILABLE');
    }
    expect(own.svc.sandbox.callCount('generosity/store')).toBe(before);

    // The client's rule: after a 503, wait Retry-After and send the same key again. By then the
    // pause is over and Redis has applied the claims it held back.
    await sleep(PAUSE_MS + 200);
    const retried = await Promise.all(keys.map(send));
    expect(retried.map((r) => r.status)).toEqual(keys.map(() => 200));
    for (const r of retried) expect(r.json.errorCode).toBe(0);
    expect(own.svc.sandbox.callCount('generosity/store') - before).toBe(keys.length);
    expect(own.svc.sandbox.userPoints('stall-user')).toBe(start + 50 * keys.length);

    // And each key now replays its one answer.
    const replays = await Promise.all(keys.map(send));
    for (const [i, r] of replays.entries()) {
      expect(r.status).toBe(200);
      expect(r.headers.get('idempotent-replayed')).toBe('true');
      expect(r.text).toBe(retried[i]!.text);
    }
    expect(own.svc.sandbox.callCount('generosity/store') - before).toBe(keys.length);
  }, 30_000);
});
