/**
 * What TRUST_PROXY lets a caller assert: the identity headers of IDENTITY_MODE=header and the
 * client IP of the rate limits. The ingress and the direct callers are real TCP peers with their
 * own loopback addresses (127.0.0.2 plays the ingress, 127.0.0.3 an attacker reaching the
 * public port directly).
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestService, type TestService } from '../helpers/service';

const INGRESS = '127.0.0.2';
const DIRECT = '127.0.0.3';

interface Answer {
  readonly status: number;
  readonly setCookies: readonly string[];
  readonly json: Record<string, unknown> | undefined;
}

/** One request from the loopback address `from`. */
function requestFrom(from: string, base: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      `${base}${path}`,
      { method, localAddress: from, agent: false, headers: { ...headers, ...(text === undefined ? {} : { 'Content-Type': 'application/json' }) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, setCookies: res.headers['set-cookie'] ?? [], json });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** TRUST_PROXY as the Kubernetes base ships it (`k8s/base/config.env`, the ConfigMap's generator). */
function manifestTrustProxy(): string {
  const text = readFileSync(join(__dirname, '../../k8s/base/config.env'), 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('TRUST_PROXY='));
  const value = line?.slice('TRUST_PROXY='.length).trim();
  if (!value) throw new Error('k8s/base/config.env sets no TRUST_PROXY');
  return value;
}

describe('IDENTITY_MODE=header behind an ingress named by address', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { IDENTITY_MODE: 'header', TRUST_PROXY: INGRESS } });
  });
  afterAll(async () => {
    await svc.close();
  });

  const connect = (from: string, user: string): Promise<Answer> =>
    requestFrom(from, svc.url, 'POST', '/api/user/clientcheckcredentials', { 'X-Auth-Request-User': user, 'X-CSRF': '1' }, {});

  it('connects the user the ingress names', async () => {
    const res = await connect(INGRESS, 'hdr-alice');
    expect(res.status).toBe(200);
    expect((res.json?.data as { user: { partnerClientId: string } }).user.partnerClientId).toBe('hdr-alice');
  });

  it('refuses a direct caller sending the same headers: 401, no session, nothing upstream', async () => {
    const before = svc.sandbox.callCount();
    for (const extra of [{}, { 'X-Forwarded-For': INGRESS }] as Record<string, string>[]) {
      const res = await requestFrom(DIRECT, svc.url, 'POST', '/api/user/clientcheckcredentials', { 'X-Auth-Request-User': 'hdr-alice', 'X-CSRF': '1', ...extra }, {});
      expect(res.status).toBe(401);
      expect(res.setCookies).toHaveLength(0);
    }
    expect(svc.sandbox.callCount()).toBe(before);
  });
});

describe('client IP of the rate limits with the TRUST_PROXY the manifests ship', () => {
  let directIp: TestService;
  let directConnect: TestService;
  let viaIngress: TestService;
  beforeAll(async () => {
    const trustProxy = manifestTrustProxy();
    directIp = await startTestService({ env: { RATE_LIMIT_IP_MAX: '20', TRUST_PROXY: trustProxy } });
    directConnect = await startTestService({ env: { RATE_LIMIT_IP_MAX: '1000', RATE_LIMIT_CONNECT_MAX: '5', TRUST_PROXY: trustProxy } });
    viaIngress = await startTestService({ env: { RATE_LIMIT_IP_MAX: '20', TRUST_PROXY: INGRESS } });
  });
  afterAll(async () => {
    await directIp?.close();
    await directConnect?.close();
    await viaIngress?.close();
  });

  it('counts a direct caller by its own address, whatever X-Forwarded-For it makes up (per-IP limit)', async () => {
    let served = 0;
    for (let i = 0; i < 30; i += 1) {
      const res = await requestFrom(DIRECT, directIp.url, 'GET', '/api/session', { 'X-Forwarded-For': `198.51.100.${i}` });
      if (res.status === 200) served += 1;
      else expect(res.status).toBe(429);
    }
    expect(served).toBe(20);
  });

  it('counts a direct caller by its own address, whatever X-Forwarded-For it makes up (connect limit)', async () => {
    let served = 0;
    for (let i = 0; i < 10; i += 1) {
      const res = await requestFrom(DIRECT, directConnect.url, 'POST', '/api/user/clientcheckcredentials', { 'X-CSRF': '1', 'X-Forwarded-For': `203.0.113.${i}` }, { partnerClientId: `xff-${i}` });
      if (res.status === 200) served += 1;
      else expect(res.status).toBe(429);
    }
    expect(served).toBe(5);
  });

  it('behind the named ingress, counts each client by the address the ingress forwards', async () => {
    for (let client = 0; client < 2; client += 1) {
      let served = 0;
      for (let i = 0; i < 25; i += 1) {
        const res = await requestFrom(INGRESS, viaIngress.url, 'GET', '/api/session', { 'X-Forwarded-For': `192.0.2.${client}` });
        if (res.status === 200) served += 1;
      }
      expect(served).toBe(20);
    }
  });
});
