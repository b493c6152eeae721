import { AxiosError } from 'axios';
import { loadSettings } from '../../../src/config/load';
import {
  ServiceUnavailable,
  SessionStoreUnavailable,
  Unauthenticated,
  UpstreamAuthFailure,
  UpstreamCircuitOpen,
  UpstreamFault,
  UpstreamTimeout,
  UpstreamUnreachable,
  UpstreamUnreadable,
} from '../../../src/errors';
import { JSON_TYPE, type HttpAnswer } from '../../../src/upstream/http-answer';
import { createIdempotency, IdempotencyInFlight, IdempotencyKeyReused, outcomeOfFailure, UpstreamOutcomeUnknown } from '../../../src/http/idempotency';
import { createLogger } from '../../../src/observability/logger';
import { createMetrics } from '../../../src/observability/metrics';
import type { KeyValueStore } from '../../../src/redis/key-value-store';
import { createMemoryStore } from '../../../src/redis/memory-store';

const logger = createLogger({ level: 'silent' });
const answer = (n: number): HttpAnswer => ({ status: 200, body: `{"errorCode":0,"errorMsg":"ok","data":{"n":${n}}}`, contentType: JSON_TYPE, errorCode: 0 });
const unreachable = (code: string): UpstreamUnreachable =>
  new UpstreamUnreachable(`unreachable (${code})`, 'gift/checkavailability', { cause: new AxiosError('x', code) });

function setup(store: KeyValueStore = createMemoryStore()) {
  const settings = loadSettings({ NODE_ENV: 'test', APM_TIMEOUT_MS: '1000' });
  const clock = { t: 5_000_000 };
  const idempotency = createIdempotency({ settings, store, metrics: createMetrics(), logger, now: () => clock.t });
  return { idempotency, clock, store };
}

describe('idempotency: what a failure means for the key', () => {
  it.each([
    ['a timeout', 'unknown', new UpstreamTimeout('t', 'p')],
    ['a reset after sending', 'unknown', unreachable('ECONNRESET')],
    ['a dropped socket', 'unknown', unreachable('ERR_NETWORK')],
    ['a 500 answer', 'unknown', new UpstreamFault('f', 'p', 500)],
    ['a 502 answer (a gateway that lost the upstream after forwarding)', 'unknown', new UpstreamFault('f', 'p', 502)],
    ['a 504 answer', 'unknown', new UpstreamFault('f', 'p', 504)],
    ['a 503 answer with an errorCode 99 envelope', 'unknown', new UpstreamFault('f', 'p', 503, 99)],
    ["a 503 page without an envelope (a proxy in front of the upstream)", 'not-sent', new UpstreamFault('f', 'p', 503)],
    ['a TLS failure', 'not-sent', unreachable('ERR_TLS_CERT_ALTNAME_INVALID')],
    ['an expired certificate', 'not-sent', unreachable('CERT_HAS_EXPIRED')],
    ['an unreadable answer', 'unknown', new UpstreamUnreadable('u', 'p')],
    ['an unexpected error', 'unknown', new Error('bug')],
    ['a refused connection', 'not-sent', unreachable('ECONNREFUSED')],
    ['an unknown host', 'not-sent', unreachable('ENOTFOUND')],
    ['an open circuit', 'not-sent', new UpstreamCircuitOpen('open', 'p', 5)],
    ['a refused signature', 'not-sent', new UpstreamAuthFailure('sig', 'p', 8)],
    ['Redis down', 'not-sent', new SessionStoreUnavailable('down')],
    ['draining', 'not-sent', new ServiceUnavailable('draining')],
    ["the user's session refused (errorCode 3)", 'not-sent', new Unauthenticated('gone')],
  ])('%s → %s', (_name, expected, err) => {
    expect(outcomeOfFailure(err)).toBe(expected);
  });
});

describe('idempotency over the in-process store', () => {
  it('runs once and replays the same status and body', async () => {
    const { idempotency } = setup();
    const exec = jest.fn(async () => answer(1));
    const first = await idempotency.run('u:alice', 'k1', 'fp', exec, 'req-1');
    const again = await idempotency.run('u:alice', 'k1', 'fp', exec, 'req-2');
    expect(exec).toHaveBeenCalledTimes(1);
    expect(again.status).toBe(first.status);
    expect(again.body).toBe(first.body);
    expect(again.headers?.['Idempotent-Replayed']).toBe('true');
    expect(first.headers?.['Idempotent-Replayed']).toBeUndefined();
  });

  it('replays a business refusal as it was', async () => {
    const { idempotency } = setup();
    const refusal: HttpAnswer = { status: 409, body: '{"errorCode":4,"errorMsg":"not enough points"}', contentType: JSON_TYPE, errorCode: 4 };
    const exec = jest.fn(async () => refusal);
    await idempotency.run('u:alice', 'k', 'fp', exec, 'r1');
    const again = await idempotency.run('u:alice', 'k', 'fp', exec, 'r2');
    expect([again.status, again.body, again.errorCode]).toEqual([409, refusal.body, 4]);
    expect(exec).toHaveBeenCalledTimes(1);
  });

  it('answers 409 to a repeat while the first is in flight', async () => {
    const { idempotency } = setup();
    let finish!: (a: HttpAnswer) => void;
    const exec = jest.fn(() => new Promise<HttpAnswer>((resolve) => (finish = resolve)));
    const first = idempotency.run('u:alice', 'k', 'fp', exec, 'r1');
    await new Promise((r) => setImmediate(r));
    await expect(idempotency.run('u:alice', 'k', 'fp', exec, 'r2')).rejects.toBeInstanceOf(IdempotencyInFlight);
    finish(answer(1));
    await first;
    expect(exec).toHaveBeenCalledTimes(1);
  });

  it('answers 422 to the same key with another body, in flight or done', async () => {
    const { idempotency } = setup();
    await idempotency.run('u:alice', 'k', 'fp-a', async () => answer(1), 'r1');
    const err = await idempotency.run('u:alice', 'k', 'fp-b', async () => answer(2), 'r2').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdempotencyKeyReused);
    expect((err as IdempotencyKeyReused).status).toBe(422);
  });

  it('keeps scopes apart: the same key from two users runs twice', async () => {
    const { idempotency } = setup();
    const exec = jest.fn(async () => answer(1));
    await idempotency.run('u:alice', 'k', 'fp', exec, 'r1');
    await idempotency.run('u:bob', 'k', 'fp', exec, 'r2');
    await idempotency.run('k:crm', 'k', 'fp', exec, 'r3');
    expect(exec).toHaveBeenCalledTimes(3);
  });

  it('releases the key after a failure known to precede sending, so a retry proceeds', async () => {
    const { idempotency } = setup();
    const exec = jest.fn<Promise<HttpAnswer>, []>().mockRejectedValueOnce(unreachable('ECONNREFUSED')).mockResolvedValueOnce(answer(2));
    await expect(idempotency.run('u:alice', 'k', 'fp', exec, 'r1')).rejects.toBeInstanceOf(UpstreamUnreachable);
    expect((await idempotency.run('u:alice', 'k', 'fp', exec, 'r2')).body).toBe(answer(2).body);
    expect(exec).toHaveBeenCalledTimes(2);
  });

  it('spends the key when the outcome is unknown: a 504 problem, the same for every repeat, never a second call', async () => {
    const { idempotency } = setup();
    const exec = jest.fn(async (): Promise<HttpAnswer> => {
      throw unreachable('ECONNRESET');
    });
    const err = await idempotency.run('u:alice', 'k', 'fp', exec, 'req-first').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamOutcomeUnknown);
    expect((err as UpstreamOutcomeUnknown).status).toBe(504);
    expect((err as Error).message).toMatch(/check the history/);
    const replay = await idempotency.run('u:alice', 'k', 'fp', exec, 'req-second');
    expect(replay.status).toBe(504);
    expect(replay.contentType).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(replay.body);
    expect(problem).toMatchObject({ status: 504, code: 'ERR_OUTCOME_UNKNOWN', requestId: 'req-first' });
    expect(problem.detail).toBe((err as Error).message);
    expect(exec).toHaveBeenCalledTimes(1);
  });

  it('treats a pending record past its lease (its replica died mid-call) as an unknown outcome', async () => {
    const { idempotency, clock } = setup();
    void idempotency.run('u:alice', 'k', 'fp', () => new Promise<HttpAnswer>(() => undefined), 'r1');
    await new Promise((r) => setImmediate(r));
    clock.t += 60_000;
    const exec = jest.fn(async () => answer(1));
    const late = await idempotency.run('u:alice', 'k', 'fp', exec, 'r2');
    expect(late.status).toBe(504);
    expect(JSON.parse(late.body).code).toBe('ERR_OUTCOME_UNKNOWN');
    expect(exec).not.toHaveBeenCalled();
  });

  it('a claim Redis applied after the claimer gave up does not lock the key: a repeat takes it over and sends once', async () => {
    const base = createMemoryStore();
    let failNextClaim = true;
    const store: KeyValueStore = {
      ...base,
      // The SET is applied, but its answer is lost (a stalled Redis answering too late).
      set: async (key, value, opts) => {
        const applied = await base.set(key, value, opts);
        if (opts.ifAbsent && failNextClaim) {
          failNextClaim = false;
          throw new SessionStoreUnavailable('Redis did not answer within 1000 ms (set)');
        }
        return applied;
      },
    };
    const { idempotency } = setup(store);
    const exec = jest.fn(async () => answer(7));
    await expect(idempotency.run('u:alice', 'k', 'fp', exec, 'r1')).rejects.toBeInstanceOf(SessionStoreUnavailable);
    expect(exec).not.toHaveBeenCalled();
    const retry = await idempotency.run('u:alice', 'k', 'fp', exec, 'r2');
    expect(retry.body).toBe(answer(7).body);
    expect(exec).toHaveBeenCalledTimes(1);
  });

  it('never sends when the claim cannot be turned into a pending record, and a retry then proceeds', async () => {
    const base = createMemoryStore();
    let failures = 1;
    const store: KeyValueStore = {
      ...base,
      // Applied late, after the claimer gave up: the claimer must not send, and the key must stay free.
      replaceIfEquals: async (key, expected, value, ttlMs) => {
        if (failures > 0) {
          failures -= 1;
          await base.replaceIfEquals(key, expected, value, ttlMs);
          throw new SessionStoreUnavailable('Redis did not answer within 1000 ms (eval)');
        }
        return base.replaceIfEquals(key, expected, value, ttlMs);
      },
    };
    const { idempotency } = setup(store);
    const exec = jest.fn(async () => answer(8));
    await expect(idempotency.run('u:alice', 'k', 'fp', exec, 'r1')).rejects.toBeInstanceOf(SessionStoreUnavailable);
    expect(exec).not.toHaveBeenCalled();
    // The background release deletes the late pending record as soon as the store answers.
    await new Promise((r) => setTimeout(r, 250));
    const retry = await idempotency.run('u:alice', 'k', 'fp', exec, 'r2');
    expect(retry.body).toBe(answer(8).body);
    expect(exec).toHaveBeenCalledTimes(1);
  });

  it('settles an unknown outcome of a qualifying request by sending it again: a duplicate refusal is the success it proves', async () => {
    const { idempotency } = setup();
    const duplicate: HttpAnswer = { status: 409, body: '{"errorCode":7,"errorMsg":"already stored"}', contentType: JSON_TYPE, errorCode: 7 };
    const exec = jest.fn<Promise<HttpAnswer>, []>().mockRejectedValueOnce(new UpstreamTimeout('t', 'generosity/store')).mockResolvedValueOnce(duplicate);
    const settled: HttpAnswer = { status: 200, body: '{"errorCode":0,"errorMsg":"ok","data":{"alreadyApplied":true}}', contentType: JSON_TYPE, errorCode: 0 };
    const resolution = { qualifies: jest.fn(async () => true), settle: (a: HttpAnswer) => (a.errorCode === 7 ? settled : a) };
    await expect(idempotency.run('u:alice', 'k', 'fp', exec, 'r1', { resolution })).rejects.toBeInstanceOf(UpstreamOutcomeUnknown);
    const retry = await idempotency.run('u:alice', 'k', 'fp', exec, 'r2', { resolution });
    expect([retry.status, retry.body]).toEqual([200, settled.body]);
    // Settled for good: the next repeat replays it without asking the upstream.
    const again = await idempotency.run('u:alice', 'k', 'fp', exec, 'r3', { resolution });
    expect([again.status, again.body, again.headers?.['Idempotent-Replayed']]).toEqual([200, settled.body, 'true']);
    expect(exec).toHaveBeenCalledTimes(2);
  });

  it('keeps the 504 for a request that does not qualify', async () => {
    const { idempotency } = setup();
    const exec = jest.fn<Promise<HttpAnswer>, []>().mockRejectedValueOnce(new UpstreamTimeout('t', 'generosity/store')).mockResolvedValue(answer(1));
    const resolution = { qualifies: async () => false, settle: (a: HttpAnswer) => a };
    await expect(idempotency.run('u:alice', 'k', 'fp', exec, 'r1', { resolution })).rejects.toBeInstanceOf(UpstreamOutcomeUnknown);
    expect((await idempotency.run('u:alice', 'k', 'fp', exec, 'r2', { resolution })).status).toBe(504);
    expect(exec).toHaveBeenCalledTimes(1);
  });

  it('answers 503 without calling when the store fails at the claim', async () => {
    const base = createMemoryStore();
    const store: KeyValueStore = {
      ...base,
      set: async () => {
        throw new SessionStoreUnavailable('Redis is not connected (set)');
      },
    };
    const { idempotency } = setup(store);
    const exec = jest.fn(async () => answer(1));
    await expect(idempotency.run('u:alice', 'k', 'fp', exec, 'r1')).rejects.toBeInstanceOf(SessionStoreUnavailable);
    expect(exec).not.toHaveBeenCalled();
  });
});
