import { ApiClient } from '../helpers/http';
import { startLocalTlsRedis, type LocalTlsRedis } from '../helpers/redis-topologies';
import { startTestService, type TestService } from '../helpers/service';
import { storeRefusalOf } from '../helpers/store-refusal';

/**
 * TLS and AUTH to Redis, as with a managed service: a redis-server that
 * speaks TLS only, with a certificate from a private CA, and a password. The
 * service trusts that CA through REDIS_TLS_CA_FILE and sends REDIS_PASSWORD;
 * any other CA, a wrong password or plain TCP leave it unready, answering 503
 * (never a hang), with the reason in the log.
 */
describe('Redis over TLS with a private CA and a password', () => {
  let redis: LocalTlsRedis;
  const services: TestService[] = [];
  beforeAll(async () => {
    redis = await startLocalTlsRedis();
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(services.map((s) => s.close()));
    await redis?.stop();
  });

  async function serviceWith(env: Record<string, string>): Promise<TestService> {
    const svc = await startTestService({ redis: false, env });
    services.push(svc);
    return svc;
  }

  it('works with REDIS_TLS_CA_FILE and REDIS_PASSWORD', async () => {
    const svc = await serviceWith({ REDIS_URL: redis.url, REDIS_TLS_CA_FILE: redis.caFile, REDIS_PASSWORD: redis.password });
    expect(svc.settings.redis.connection?.tls?.ca).toContain('BEGIN CERTIFICATE');
    expect((await fetch(`${svc.internalUrl}/readyz`)).status).toBe(200);
    const api = new ApiClient(svc.url);
    expect((await api.connect('tls-user-1')).status).toBe(200);
    expect((await api.get('/api/session')).json).toMatchObject({ connected: true, user: { partnerClientId: 'tls-user-1' } });
    expect((await api.get('/api/gift/list')).status).toBe(200);
  });

  it.each([
    ['a certificate from another CA', () => ({ REDIS_URL: redis.url, REDIS_TLS_CA_FILE: redis.otherCaFile, REDIS_PASSWORD: redis.password }), /certificate/i],
    ['a wrong password', () => ({ REDIS_URL: redis.url, REDIS_TLS_CA_FILE: redis.caFile, REDIS_PASSWORD: 'not-the-password' }), /WRONGPASS|invalid|password/i],
  ])('refuses %s: not ready, 503 with Retry-After at once, the reason logged', async (_label, env, reason) => {
    const svc = await serviceWith(env());
    expect((await fetch(`${svc.internalUrl}/readyz`)).status).toBe(503);
    const res = await new ApiClient(svc.url).connect('tls-user-2');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    // At once: refused because the store is known to be away, not after waiting on it.
    expect(storeRefusalOf(res.json.detail)).toEqual({ kind: 'at-once' });
    expect(svc.logs.some((l) => l.includes('redis') && reason.test(l))).toBe(true);
  });
});
