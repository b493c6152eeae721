import { createClient } from 'redis';
import { UpstreamAuthFailure, UpstreamTimeout } from '../../src/errors';
import { createLogger } from '../../src/observability/logger';
import { createMetrics, type Metrics } from '../../src/observability/metrics';
import { createRedisStore, type RedisKeyValueStore } from '../../src/redis/redis-store';
import type { Sandbox } from '../../src/sandbox';
import { createTokenCipher } from '../../src/crypto/token-cipher';
import { createBackendToken, renewalMarginMs, type BackendToken } from '../../src/upstream/backend-token';
import { endpoint } from '../../src/upstream/catalogue';
import { createUpstreamClient, type UpstreamClient } from '../../src/upstream/client';
import { createSigner } from '../../src/upstream/signer';
import { dropPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis';
import { startTestSandbox, startTestService, TEST_PARTNER, type TestService } from '../helpers/service';

const KEY = 'token-test-key-0123456789abcdefgh';
const ENV = { INTERNAL_API_KEYS: `tokens:${KEY}` };

async function infos(svc: TestService, requestId?: string): Promise<number> {
  const res = await fetch(`${svc.internalUrl}/internal/user/infos`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', ...(requestId ? { 'X-Request-Id': requestId } : {}) },
    body: JSON.stringify({ limit: 1 }),
  });
  await res.text();
  return res.status;
}

async function renewals(metrics: Metrics, outcome: string): Promise<number> {
  const values = (await metrics.backendTokenRenewals.get()).values;
  return values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

/** Every key under a prefix, with its value (strings only). */
async function dump(prefix: string): Promise<Map<string, string>> {
  const redis = createClient({ url: testRedisUrl() });
  await redis.connect();
  try {
    const out = new Map<string, string>();
    for await (const batch of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      for (const key of batch) if ((await redis.type(key)) === 'string') out.set(key, (await redis.get(key)) ?? '');
    }
    return out;
  } finally {
    await redis.close();
  }
}

describe('renewalMarginMs', () => {
  it('is a tenth of the life or 60 s, whichever is less', () => {
    expect(renewalMarginMs(3_600_000)).toBe(60_000);
    expect(renewalMarginMs(600_000)).toBe(60_000);
    expect(renewalMarginMs(300_000)).toBe(30_000);
    expect(renewalMarginMs(10_000)).toBe(1_000);
  });
});

describe('back-end token through the service', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('20 concurrent calls at a cold start fetch the token once', async () => {
    const svc = await startTestService({ sandbox, env: ENV });
    try {
      sandbox.resetCalls();
      const statuses = await Promise.all(Array.from({ length: 20 }, () => infos(svc)));
      expect(statuses).toEqual(Array(20).fill(200));
      expect(sandbox.callCount('auth/token')).toBe(1);
      expect(sandbox.callCount('user/infos')).toBe(20);
      expect(await renewals(svc.app.metrics, 'ok')).toBe(1);
      // Warm: no more fetches.
      await infos(svc);
      expect(sandbox.callCount('auth/token')).toBe(1);
    } finally {
      await svc.close();
    }
  });

  it('also fetches once with the in-process store (no REDIS_URL)', async () => {
    const svc = await startTestService({ sandbox, env: ENV, redis: false });
    try {
      sandbox.resetCalls();
      const statuses = await Promise.all(Array.from({ length: 20 }, () => infos(svc)));
      expect(statuses).toEqual(Array(20).fill(200));
      expect(sandbox.callCount('auth/token')).toBe(1);
      sandbox.expireBackendTokens();
      expect(await infos(svc)).toBe(200);
      expect(sandbox.callCount('auth/token')).toBe(2);
    } finally {
      await svc.close();
    }
  });

  it('20 concurrent calls on two replicas sharing the store fetch the token once', async () => {
    const prefix = uniquePrefix('bt-replicas');
    const a = await startTestService({ sandbox, prefix, env: ENV });
    const b = await startTestService({ sandbox, prefix, env: ENV });
    try {
      sandbox.resetCalls();
      // A slow auth/token makes the replicas overlap: one holds the lock, the other waits.
      sandbox.injectFault({ path: 'auth/token', kind: 'delay', ms: 150, times: 2 });
      const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => infos(i % 2 ? a : b)));
      expect(statuses).toEqual(Array(20).fill(200));
      expect(sandbox.callCount('auth/token')).toBe(1);
      expect((await renewals(a.app.metrics, 'ok')) + (await renewals(b.app.metrics, 'ok'))).toBe(1);
    } finally {
      sandbox.clearFaults();
      await a.close();
      await b.close();
      await dropPrefix(prefix);
    }
  });

  it('renews a token the upstream expired (errorCode 10) and retries once, transparently', async () => {
    const svc = await startTestService({ sandbox, env: ENV });
    try {
      expect(await infos(svc)).toBe(200);
      sandbox.resetCalls();
      sandbox.expireBackendTokens();
      expect(await infos(svc, 'after-expiry')).toBe(200);
      expect(sandbox.callCount('auth/token')).toBe(1);
      const calls = sandbox.calls.filter((c) => c.path === 'user/infos');
      expect(calls.map((c) => c.errorCode)).toEqual([10, 0]);
      expect(calls[0]!.sub).not.toBe(calls[1]!.sub);
      // The log says what happened, without the token.
      expect(svc.logs.join('\n')).toContain('back-end token refused (errorCode 10)');
    } finally {
      await svc.close();
    }
  });

  it('after an expiry, 20 concurrent calls on two replicas renew once and all succeed', async () => {
    const prefix = uniquePrefix('bt-expire');
    const a = await startTestService({ sandbox, prefix, env: ENV });
    const b = await startTestService({ sandbox, prefix, env: ENV });
    try {
      expect(await infos(a)).toBe(200);
      expect(await infos(b)).toBe(200);
      sandbox.resetCalls();
      sandbox.expireBackendTokens();
      const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => infos(i % 2 ? a : b)));
      expect(statuses).toEqual(Array(20).fill(200));
      expect(sandbox.callCount('auth/token')).toBe(1);
    } finally {
      await a.close();
      await b.close();
      await dropPrefix(prefix);
    }
  });

  it('answers 502 with upstreamErrorCode 10 when even a fresh token is refused', async () => {
    const svc = await startTestService({ sandbox, env: ENV });
    try {
      expect(await infos(svc)).toBe(200);
      sandbox.resetCalls();
      // Every token dies before it can be used: the retry fails too, and there is no third try.
      const stop = setInterval(() => sandbox.expireBackendTokens(), 1);
      sandbox.expireBackendTokens();
      sandbox.injectFault({ path: 'user/infos', kind: 'delay', ms: 20 });
      const res = await fetch(`${svc.internalUrl}/internal/user/infos`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
        body: '{}',
      });
      clearInterval(stop);
      sandbox.clearFaults();
      expect(res.status).toBe(502);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect((await res.json()).upstreamErrorCode).toBe(10);
      expect(sandbox.callCount('user/infos')).toBe(2);
      expect(sandbox.callCount('auth/token')).toBe(1);
      // The next call starts afresh and succeeds.
      expect(await infos(svc)).toBe(200);
    } finally {
      await svc.close();
    }
  });

  it('keeps the token encrypted in Redis and out of the logs', async () => {
    const svc = await startTestService({ sandbox, env: ENV });
    try {
      expect(await infos(svc)).toBe(200);
      const token = sandbox.calls.filter((c) => c.path === 'user/infos').pop()!.sub;
      expect(token.length).toBeGreaterThan(8);
      const stored = await dump(svc.prefix);
      const tokenEntry = stored.get(`${svc.prefix}backend-token`);
      expect(tokenEntry).toBeDefined();
      for (const value of stored.values()) expect(value).not.toContain(token);
      expect(svc.logs.join('\n')).not.toContain(token);
    } finally {
      await svc.close();
    }
  });
});

describe('back-end token renewal before expiry (injected clock)', () => {
  const TTL_SECONDS = 10;
  let offsetMs = 0;
  const clock = (): number => Date.now() + offsetMs;
  let sandbox: Sandbox;
  let store: RedisKeyValueStore;
  let client: UpstreamClient;
  let metrics: Metrics;
  let prefix: string;
  const logger = createLogger({ level: 'silent' });
  const cipher = createTokenCipher([Buffer.alloc(32, 7)]);
  const userInfos = endpoint('user/infos');

  function replica(options: { upstreamTimeoutMs?: number } = {}): BackendToken {
    return createBackendToken({ store, client, keyPrefix: prefix, cipher, logger, metrics, upstreamTimeoutMs: options.upstreamTimeoutMs ?? 2000, now: clock });
  }

  beforeAll(async () => {
    sandbox = await startTestSandbox({ backendTokenTtlSeconds: TTL_SECONDS, now: clock });
    store = await createRedisStore({ url: testRedisUrl(), commandTimeoutMs: 1000, logger });
    metrics = createMetrics();
    const signer = createSigner({
      partnerId: TEST_PARTNER.id,
      partnerSecret: TEST_PARTNER.secret,
      jsonEncoding: 'php',
      signedHeadersFormat: 'object',
      emptyBody: '{}',
      signatureHeader: 'Authorization',
      now: clock,
    });
    client = createUpstreamClient({ baseUrl: sandbox.url, timeoutMs: 2000, maxSockets: 16, signer, logger, metrics });
  });
  beforeEach(() => {
    offsetMs = 0;
    prefix = uniquePrefix('bt-clock');
    sandbox.resetCalls();
  });
  afterEach(async () => {
    await dropPrefix(prefix);
  });
  afterAll(async () => {
    client.close();
    await store.close();
    await sandbox.close();
  });

  it('renews a 10 s token once less than a tenth of its life is left, before the upstream refuses it', async () => {
    const tokens = replica();
    const first = await tokens.call({ endpoint: userInfos, body: {}, requestId: 'clock-1' });
    expect(first.errorCode).toBe(0);
    expect(sandbox.callCount('auth/token')).toBe(1);
    const oldToken = await tokens.get('clock-peek');

    offsetMs = 8_500; // 1.5 s left: more than the 1 s margin, kept
    expect((await tokens.call({ endpoint: userInfos, body: {}, requestId: 'clock-2' })).errorCode).toBe(0);
    expect(sandbox.callCount('auth/token')).toBe(1);

    offsetMs = 9_500; // 0.5 s left: renewed before use
    expect((await tokens.call({ endpoint: userInfos, body: {}, requestId: 'clock-3' })).errorCode).toBe(0);
    expect(sandbox.callCount('auth/token')).toBe(2);
    const renewed = await tokens.get('clock-peek');
    expect(renewed).not.toBe(oldToken);
    // The upstream never had to refuse a token.
    expect(sandbox.calls.filter((c) => c.errorCode === 10)).toHaveLength(0);

    // And the renewal was needed: at 10.5 s the old token is refused.
    offsetMs = 10_500;
    await expect(client.call({ endpoint: userInfos, sub: oldToken, body: {}, requestId: 'clock-old' })).rejects.toMatchObject({
      constructor: UpstreamAuthFailure,
      upstreamErrorCode: 10,
    });
    expect((await tokens.call({ endpoint: userInfos, body: {}, requestId: 'clock-4' })).errorCode).toBe(0);
    expect(sandbox.callCount('auth/token')).toBe(2);
  });

  it('a replica adopts the token another replica renewed, without fetching', async () => {
    const a = replica();
    const b = replica();
    await a.get('r-1');
    expect(await b.get('r-2')).toBe(await a.get('r-3'));
    expect(sandbox.callCount('auth/token')).toBe(1);
    offsetMs = 9_600;
    const renewedByB = await b.get('r-4');
    expect(await a.get('r-5')).toBe(renewedByB);
    expect(sandbox.callCount('auth/token')).toBe(2);
  });

  it('concurrent renewals near expiry on two replicas fetch once', async () => {
    const a = replica();
    const b = replica();
    await a.get('c-1');
    await b.get('c-2');
    offsetMs = 9_700;
    sandbox.resetCalls();
    const got = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).get(`c-${i}`)));
    expect(new Set(got).size).toBe(1);
    expect(sandbox.callCount('auth/token')).toBe(1);
  });

  it('takes over a lock its holder abandoned', async () => {
    await store.set(`${prefix}backend-token:lock`, 'a-replica-that-died', { ttlMs: 300, ifAbsent: true });
    const token = await replica().get('abandoned');
    expect(token.length).toBeGreaterThan(0);
    expect(sandbox.callCount('auth/token')).toBe(1);
  });

  it('gives up, bounded, while another replica holds the lock and never stores a token', async () => {
    await store.set(`${prefix}backend-token:lock`, 'a-replica-that-hangs', { ttlMs: 60_000, ifAbsent: true });
    await expect(replica({ upstreamTimeoutMs: 100 }).get('stuck')).rejects.toBeInstanceOf(UpstreamTimeout);
    expect(sandbox.callCount('auth/token')).toBe(0);
  });

  it('counts failed fetches', async () => {
    sandbox.injectFault({ path: 'auth/token', kind: 'status', status: 503, times: 1 });
    const before = await renewals(metrics, 'failed');
    await expect(replica().get('fail')).rejects.toThrow();
    expect(await renewals(metrics, 'failed')).toBe(before + 1);
    // The lock was released: the next attempt fetches at once.
    expect(await replica().get('after-fail')).toBeTruthy();
  });
});
