import { createClient } from 'redis';
import { loadSettings, SettingsError } from '../../src/config/load';
import type { Sandbox } from '../../src/sandbox';
import { testRedisUrl } from '../helpers/redis';
import { startTestSandbox, startTestService, type TestService } from '../helpers/service';
import { startStatusRelay, type StatusRelay } from '../helpers/status-relay';

const KEY = 'token-answer-key-0123456789abcdefgh';

async function userInfo(svc: TestService): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${svc.internalUrl}/internal/user/infos`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ limit: 1 }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function tokenTtlMs(prefix: string): Promise<number> {
  const redis = createClient({ url: testRedisUrl() });
  await redis.connect();
  try {
    return await redis.pTTL(`${prefix}backend-token`);
  } finally {
    await redis.close();
  }
}

type Data = Record<string, unknown>;
const dataOf = (body: Record<string, unknown>): Data => body.data as Data;

/** The back-end token's answer read as the settings say: field names, and a life when none is given. */
describe('auth/token answer reading', () => {
  let sandbox: Sandbox;
  let relay: StatusRelay;
  const services: TestService[] = [];
  const start = async (env: Record<string, string> = {}): Promise<TestService> => {
    const svc = await startTestService({ sandbox, env: { APM_BASE_URL: relay.url, INTERNAL_API_KEYS: `answers:${KEY}`, ...env } });
    services.push(svc);
    return svc;
  };

  beforeAll(async () => {
    sandbox = await startTestSandbox();
    relay = await startStatusRelay(sandbox.url);
  });
  afterEach(async () => {
    relay.clear();
    for (const svc of services.splice(0)) await svc.close();
  });
  afterAll(async () => {
    await relay.close();
    await sandbox.close();
  });

  it('without expiresIn, uses the token for APM_BACKEND_TOKEN_DEFAULT_TTL_SECONDS instead of failing every call', async () => {
    relay.reshape('auth/token', (body) => {
      const { expiresIn: _dropped, ...data } = dataOf(body);
      return { ...body, data };
    });
    const svc = await start({ APM_BACKEND_TOKEN_DEFAULT_TTL_SECONDS: '120' });
    expect((await userInfo(svc)).status).toBe(200);
    expect((await userInfo(svc)).status).toBe(200);
    expect(sandbox.callCount('auth/token')).toBeGreaterThanOrEqual(1);
    const ttl = await tokenTtlMs(svc.prefix);
    expect(ttl).toBeGreaterThan(100_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
    expect(svc.logs.join('')).toMatch(/APM_BACKEND_TOKEN_EXPIRES_IN_FIELD/);
  });

  it('reads the token and its life at the paths the settings name', async () => {
    relay.reshape('auth/token', (body) => {
      const data = dataOf(body);
      return { ...body, data: { auth: { accessToken: data.token, ttl: 90 } } };
    });
    const svc = await start({ APM_BACKEND_TOKEN_FIELD: 'auth.accessToken', APM_BACKEND_TOKEN_EXPIRES_IN_FIELD: 'auth.ttl' });
    expect((await userInfo(svc)).status).toBe(200);
    const ttl = await tokenTtlMs(svc.prefix);
    expect(ttl).toBeGreaterThan(80_000);
    expect(ttl).toBeLessThanOrEqual(90_000);
    expect(svc.logs.join('')).not.toMatch(/APM_BACKEND_TOKEN_EXPIRES_IN_FIELD/);
  });

  it('answers 502 naming APM_BACKEND_TOKEN_FIELD when the token is not where it says', async () => {
    const svc = await start({ APM_BACKEND_TOKEN_FIELD: 'accessToken' });
    const answer = await userInfo(svc);
    expect(answer.status).toBe(502);
    expect(answer.body.detail).toMatch(/APM_BACKEND_TOKEN_FIELD/);
  });

  it('refuses a field setting that is not a path', () => {
    expect(() => loadSettings({ APM_BACKEND_TOKEN_FIELD: 'data[token]' })).toThrow(SettingsError);
    try {
      loadSettings({ APM_BACKEND_TOKEN_EXPIRES_IN_FIELD: 'a..b' });
    } catch (err) {
      expect((err as SettingsError).problems).toEqual([expect.stringMatching(/^APM_BACKEND_TOKEN_EXPIRES_IN_FIELD: "a\.\.b" is not a field path/)]);
    }
    expect.assertions(2);
  });
});
