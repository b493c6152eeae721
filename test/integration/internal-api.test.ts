import { ApiClient } from '../helpers/http';
import { uniquePrefix, dropPrefix } from '../helpers/redis';
import { startTestSandbox, startTestService, type TestService } from '../helpers/service';
import type { Sandbox } from '../../src/sandbox';
import { keyFingerprint } from '../../src/http/internal-auth';
import { backEndpoints, frontEndpoints } from '../../src/upstream/catalogue';

const KEY_A = 'alpha-key-0123456789abcdefghijkl';
const KEY_B = 'bravo-key-0123456789abcdefghijkl';
const KEY_REMOVED = 'retired-key-0123456789abcdefghij';

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function internal(base: string, path: string, options: { body?: unknown; rawBody?: string; key?: string | null; method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== null) headers.Authorization ??= `Bearer ${options.key ?? KEY_A}`;
  const hasBody = options.body !== undefined || options.rawBody !== undefined;
  if (hasBody) headers['Content-Type'] ??= 'application/json';
  const res = await fetch(`${base}${path}`, {
    method: options.method ?? 'POST',
    headers,
    body: options.rawBody ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function expectProblem(res: Answer, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.json.status).toBe(status);
  expect(typeof res.json.requestId).toBe('string');
}

describe('internal API', () => {
  let sandbox: Sandbox;
  let prefix: string;
  let a: TestService;
  let b: TestService;

  beforeAll(async () => {
    sandbox = await startTestSandbox();
    prefix = uniquePrefix('internal');
    // Instance A: a named key and a bare one. Instance B: the same deployment after a rotation removed KEY_REMOVED.
    a = await startTestService({ sandbox, prefix, env: { INTERNAL_API_KEYS: `svc-alpha:${KEY_A},${KEY_B},old:${KEY_REMOVED}` } });
    b = await startTestService({ sandbox, prefix, env: { INTERNAL_API_KEYS: `svc-alpha:${KEY_A},${KEY_B}` } });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await sandbox.close();
    await dropPrefix(prefix);
  });

  describe('happy paths', () => {
    it('buffer/store stores an action for a user, creating them', async () => {
      const res = await internal(a.internalUrl, '/internal/buffer/store', { body: { partnerClientId: 'ia-store-1', action: 'welcome' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.json.errorCode).toBe(0);
      expect(res.json.data.earn.action).toBe('welcome');
      expect(sandbox.userPoints('ia-store-1')).toBe(res.json.data.points);
      const call = sandbox.calls.filter((c) => c.path === 'buffer/store').pop()!;
      expect(call.sub).not.toBe('');
      expect(JSON.parse(call.body)).toEqual({ partnerClientId: 'ia-store-1', action: 'welcome' });
    });

    it('a business refusal keeps the envelope with the mapped status (7 → 409)', async () => {
      await internal(a.internalUrl, '/internal/buffer/store', { body: { partnerClientId: 'ia-store-2', action: 'welcome' } });
      const again = await internal(a.internalUrl, '/internal/buffer/store', { body: { partnerClientId: 'ia-store-2', action: 'welcome' } });
      expect(again.status).toBe(409);
      expect(again.headers.get('content-type')).toMatch(/^application\/json/);
      expect(again.json.errorCode).toBe(7);
    });

    it('generosity/multistore stores for several users', async () => {
      const res = await internal(a.internalUrl, '/internal/generosity/multistore', {
        body: { action: 'purchase', param1: 'order-77', partnerClientIds: ['ia-multi-1', 'ia-multi-2'] },
      });
      expect(res.status).toBe(200);
      expect(res.json.data.results.map((r: { partnerClientId: string; errorCode: number }) => [r.partnerClientId, r.errorCode])).toEqual([
        ['ia-multi-1', 0],
        ['ia-multi-2', 0],
      ]);
    });

    it('user/incrementalinfos, user/infos, user/info and user/ranking answer', async () => {
      await internal(a.internalUrl, '/internal/buffer/store', { body: { partnerClientId: 'ia-read-1', action: 'welcome' } });
      const incremental = await internal(a.internalUrl, '/internal/user/incrementalinfos', { body: { since: 0, limit: 100 } });
      expect(incremental.status).toBe(200);
      expect(incremental.json.data.users.some((u: { partnerClientId: string }) => u.partnerClientId === 'ia-read-1')).toBe(true);

      const infos = await internal(a.internalUrl, '/internal/user/infos', { body: { partnerClientIds: ['ia-read-1'] } });
      expect(infos.status).toBe(200);
      expect(infos.json.data.users).toHaveLength(1);

      const info = await internal(a.internalUrl, '/internal/user/info', { body: { partnerClientId: 'ia-read-1' } });
      expect(info.status).toBe(200);
      expect(info.json.data.user.partnerClientId).toBe('ia-read-1');

      const ranking = await internal(a.internalUrl, '/internal/user/ranking', { body: { partnerClientId: 'ia-read-1', n: 2 } });
      expect(ranking.status).toBe(200);
      expect(ranking.json.data.ranking.some((r: { partnerClientId: string }) => r.partnerClientId === 'ia-read-1')).toBe(true);
    });

    it('an unknown user is errorCode 11 → 404 with the envelope', async () => {
      const res = await internal(a.internalUrl, '/internal/user/info', { body: { partnerClientId: 'nobody-at-all' } });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.json).toMatchObject({ errorCode: 11 });
      expect(typeof res.json.errorMsg).toBe('string');
    });

    it('user/multidelete deletes the users', async () => {
      await internal(a.internalUrl, '/internal/buffer/store', { body: { partnerClientId: 'ia-del-1', action: 'welcome' } });
      const res = await internal(a.internalUrl, '/internal/user/multidelete', { body: { partnerClientIds: ['ia-del-1', 'ia-never-was'] } });
      expect(res.status).toBe(200);
      expect(res.json.data.results).toEqual([
        { partnerClientId: 'ia-del-1', deleted: true },
        { partnerClientId: 'ia-never-was', deleted: false },
      ]);
      expect(sandbox.userPoints('ia-del-1')).toBeUndefined();
    });

    it('passes the request id upstream and back', async () => {
      const res = await internal(a.internalUrl, '/internal/user/infos', { body: {}, headers: { 'X-Request-Id': 'partner-batch.42' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe('partner-batch.42');
      expect(sandbox.calls.filter((c) => c.path === 'user/infos').pop()!.headers['x-request-id']).toBe('partner-batch.42');
    });
  });

  describe('Idempotency-Key', () => {
    it('replays a buffer/store repeat without reaching the upstream twice, per caller key', async () => {
      const body = { partnerClientId: 'ia-idem-1', action: 'purchase', param1: 'order-idem-1' };
      const headers = { 'Idempotency-Key': 'partner-batch-1' };
      sandbox.resetCalls();
      const first = await internal(a.internalUrl, '/internal/buffer/store', { body, headers });
      const repeat = await internal(b.internalUrl, '/internal/buffer/store', { body, headers });
      expect(first.status).toBe(200);
      expect(repeat.status).toBe(200);
      expect(repeat.text).toBe(first.text);
      expect(sandbox.callCount('buffer/store')).toBe(1);

      const otherBody = await internal(a.internalUrl, '/internal/buffer/store', { body: { ...body, param1: 'order-idem-2' }, headers });
      expectProblem(otherBody, 422);
      expect(sandbox.callCount('buffer/store')).toBe(1);

      // Another caller key is another scope: its call reaches the upstream (which says the action is already stored).
      const otherCaller = await internal(a.internalUrl, '/internal/buffer/store', { body, headers, key: KEY_B });
      expect(otherCaller.status).toBe(409);
      expect(otherCaller.json.errorCode).toBe(7);
      expect(sandbox.callCount('buffer/store')).toBe(2);
    });

    it('replays a generosity/multistore repeat', async () => {
      const body = { action: 'purchase', param1: 'order-idem-m', partnerClientIds: ['ia-idem-m1', 'ia-idem-m2'] };
      const headers = { 'Idempotency-Key': 'partner-batch-m' };
      sandbox.resetCalls();
      const first = await internal(a.internalUrl, '/internal/generosity/multistore', { body, headers });
      const repeat = await internal(a.internalUrl, '/internal/generosity/multistore', { body, headers });
      expect(first.status).toBe(200);
      expect(repeat.text).toBe(first.text);
      expect(sandbox.callCount('generosity/multistore')).toBe(1);
    });
  });

  describe('caller keys', () => {
    it('refuses a call without a key, or with a wrong one, and forwards nothing', async () => {
      sandbox.resetCalls();
      const none = await internal(a.internalUrl, '/internal/user/info', { body: { partnerClientId: 'x' }, key: null });
      expectProblem(none, 401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expectProblem(await internal(a.internalUrl, '/internal/user/info', { body: { partnerClientId: 'x' }, key: 'not-a-key-of-this-service-at-all' }), 401);
      expectProblem(await internal(a.internalUrl, '/internal/user/info', { body: { partnerClientId: 'x' }, headers: { Authorization: `Basic ${KEY_A}` } }), 401);
      expectProblem(await internal(a.internalUrl, '/internal/user/info', { body: { partnerClientId: 'x' }, key: `${KEY_A}x` }), 401);
      expectProblem(await internal(a.internalUrl, '/internal/user/info', { body: { partnerClientId: 'x' }, key: KEY_A.slice(0, -1) }), 401);
      // Even an unknown path says nothing to a caller without a key.
      expectProblem(await internal(a.internalUrl, '/internal/no/such/thing', { body: {}, key: null }), 401);
      expect(sandbox.callCount()).toBe(0);
    });

    it('accepts every configured key (rotation), and a removed key no longer works', async () => {
      for (const key of [KEY_A, KEY_B, KEY_REMOVED]) {
        expect((await internal(a.internalUrl, '/internal/user/infos', { body: {}, key })).status).toBe(200);
      }
      expect((await internal(b.internalUrl, '/internal/user/infos', { body: {}, key: KEY_A })).status).toBe(200);
      expect((await internal(b.internalUrl, '/internal/user/infos', { body: {}, key: KEY_B })).status).toBe(200);
      expectProblem(await internal(b.internalUrl, '/internal/user/infos', { body: {}, key: KEY_REMOVED }), 401);
    });

    it("logs each call with the key's id or fingerprint, never the key", async () => {
      await internal(a.internalUrl, '/internal/user/infos', { body: {}, key: KEY_A, headers: { 'X-Request-Id': 'audit-named' } });
      await internal(a.internalUrl, '/internal/user/infos', { body: {}, key: KEY_B, headers: { 'X-Request-Id': 'audit-bare' } });
      await new Promise((r) => setImmediate(r));
      const lines = a.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
      const named = lines.find((l) => l.requestId === 'audit-named' && l.msg === 'request');
      const bare = lines.find((l) => l.requestId === 'audit-bare' && l.msg === 'request');
      expect(named).toMatchObject({ listener: 'internal', route: '/internal/user/infos', status: 200, caller: 'svc-alpha' });
      expect(bare).toMatchObject({ caller: keyFingerprint(KEY_B) });
      const all = a.logs.join('\n');
      for (const key of [KEY_A, KEY_B, KEY_REMOVED]) expect(all).not.toContain(key);
    });

    it('keeps probes and /metrics free of keys', async () => {
      expect((await internal(a.internalUrl, '/healthz', { method: 'GET', key: null })).status).toBe(200);
      expect((await internal(a.internalUrl, '/readyz', { method: 'GET', key: null })).status).toBe(200);
      const metrics = await internal(a.internalUrl, '/metrics', { method: 'GET', key: null });
      expect(metrics.status).toBe(200);
      expect(metrics.text).toContain('miles_bff_backend_token_renewals_total');
    });
  });

  describe('bad input: a clear 4xx and nothing forwarded', () => {
    const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `u${i}`);
    const cases: Array<[string, string, Parameters<typeof internal>[2], number]> = [
      ['malformed JSON', '/internal/user/info', { rawBody: '{"partnerClientId": ' }, 400],
      ['a body that is not an object', '/internal/user/info', { rawBody: '["a"]' }, 400],
      ['a JSON string body', '/internal/user/info', { rawBody: '"a"' }, 400],
      ['an unknown field', '/internal/user/info', { body: { partnerClientId: 'a', admin: true } }, 400],
      ['a __proto__ key', '/internal/user/info', { rawBody: '{"partnerClientId":"a","__proto__":{"x":1}}' }, 400],
      ['a missing required field', '/internal/buffer/store', { body: { action: 'welcome' } }, 400],
      ['a wrong type', '/internal/user/ranking', { body: { partnerClientId: 'a', n: '3' } }, 400],
      ['an out-of-range n', '/internal/user/ranking', { body: { partnerClientId: 'a', n: 51 } }, 400],
      ['1,001 ids in a multistore', '/internal/generosity/multistore', { body: { action: 'welcome', partnerClientIds: ids(1001) } }, 400],
      ['no ids in a multidelete', '/internal/user/multidelete', { body: { partnerClientIds: [] } }, 400],
      ['a non-JSON content type', '/internal/user/info', { rawBody: 'partnerClientId=a', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, 415],
      ['a body over 16 KiB', '/internal/user/infos', { body: { partnerClientIds: ids(2000).map((id) => `${id}-${'x'.repeat(10)}`) } }, 413],
      ['a malformed Idempotency-Key', '/internal/buffer/store', { body: { partnerClientId: 'a', action: 'welcome' }, headers: { 'Idempotency-Key': 'has space' } }, 400],
      ['an unknown path', '/internal/user/everything', { body: {} }, 404],
      ['auth/token, which is not exposed', '/internal/auth/token', { body: {} }, 404],
      ['GET on a POST route', '/internal/user/info', { method: 'GET' }, 405],
      ['an unknown field in a revocation', '/internal/sessions/revoke', { body: { partnerClientId: 'a', all: true } }, 400],
      ['a revocation without a user', '/internal/sessions/revoke', { body: {} }, 400],
      ['fields in a purge', '/internal/cache/purge', { body: { everything: true } }, 400],
    ];
    it.each(cases)('%s', async (_label, path, options, status) => {
      sandbox.resetCalls();
      const res = await internal(a.internalUrl, path, options);
      expectProblem(res, status);
      expect(res.json.detail).toBeTruthy();
      expect(sandbox.callCount()).toBe(0);
    });

    it('names the refused fields', async () => {
      const res = await internal(a.internalUrl, '/internal/user/info', { body: { partnerClientId: 'a', admin: true } });
      expect(res.json.detail).toContain('admin');
      const many = await internal(a.internalUrl, '/internal/generosity/multistore', { body: { action: 'welcome', partnerClientIds: ids(1001) } });
      expect(many.json.detail).toContain('partnerClientIds');
    });

    it('accepts exactly 1,000 ids', async () => {
      const res = await internal(a.internalUrl, '/internal/user/infos', { body: { partnerClientIds: ids(1000), limit: 1 } });
      expect(res.status).toBe(200);
    });
  });

  describe('sessions and cache', () => {
    it('user/multidelete ends the sessions of the deleted users on another replica', async () => {
      const user = new ApiClient(b.url);
      expect((await user.connect('ia-replica-del')).status).toBe(200);
      expect((await user.get('/api/session')).json.connected).toBe(true);
      const bystander = new ApiClient(b.url);
      await bystander.connect('ia-replica-keep');

      const res = await internal(a.internalUrl, '/internal/user/multidelete', { body: { partnerClientIds: ['ia-replica-del'] } });
      expect(res.status).toBe(200);

      expect((await user.get('/api/session')).json).toEqual({ connected: false });
      expectProblem(await user.get('/api/gift/list'), 401);
      expect((await bystander.get('/api/session')).json.connected).toBe(true);
    });

    it('sessions/revoke ends every session of a user and says how many', async () => {
      const phone = new ApiClient(b.url);
      const laptop = new ApiClient(a.url);
      await phone.connect('ia-revoke-1');
      await laptop.connect('ia-revoke-1');
      const res = await internal(a.internalUrl, '/internal/sessions/revoke', { body: { partnerClientId: 'ia-revoke-1' } });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ revoked: 2 });
      for (const client of [phone, laptop]) {
        expect((await client.get('/api/session')).json).toEqual({ connected: false });
        expectProblem(await client.get('/api/gift/list'), 401);
      }
      const again = await internal(b.internalUrl, '/internal/sessions/revoke', { body: { partnerClientId: 'ia-revoke-1' } });
      expect(again.json).toEqual({ revoked: 0 });
    });

    it('cache/purge empties the response cache and says how many entries it dropped', async () => {
      const visitor = new ApiClient(a.url);
      expect((await visitor.get('/api/partner/getprog?lang=fr')).status).toBe(200);
      expect((await visitor.get('/api/partner/getprog?lang=en')).status).toBe(200);
      sandbox.resetCalls();
      expect((await visitor.get('/api/partner/getprog?lang=fr')).status).toBe(200);
      expect(sandbox.callCount('partner/getprog')).toBe(0); // served from the cache

      const res = await internal(a.internalUrl, '/internal/cache/purge', { body: {} });
      expect(res.status).toBe(200);
      expect(Number.isInteger(res.json.purged)).toBe(true);
      expect(res.json.purged).toBeGreaterThanOrEqual(2);
      expect(sandbox.callCount()).toBe(0);

      expect((await visitor.get('/api/partner/getprog?lang=fr')).status).toBe(200);
      expect(sandbox.callCount('partner/getprog')).toBe(1); // the cache was emptied
      // An empty body counts as {}; a second purge finds less to drop.
      const again = await internal(b.internalUrl, '/internal/cache/purge', {});
      expect(again.status).toBe(200);
      expect(again.json.purged).toBeLessThan(res.json.purged);
    });
  });

  describe('listeners', () => {
    it('/internal/* is 404 on the public listener, with or without a key', async () => {
      const api = new ApiClient(a.url);
      for (const path of ['/internal/user/info', '/internal/sessions/revoke', '/internal/openapi.json', '/internal/cache/purge']) {
        sandbox.resetCalls();
        expectProblem(await api.post(path, { partnerClientId: 'x' }), 404);
        expectProblem(await api.post(path, { partnerClientId: 'x' }, { headers: { Authorization: `Bearer ${KEY_A}` } }), 404);
        expectProblem(await api.get(path), 404);
        expect(sandbox.callCount()).toBe(0);
      }
    });
  });

  describe('OpenAPI documents', () => {
    it('serves the internal document behind the key, listing every exposed back-end endpoint', async () => {
      expectProblem(await internal(a.internalUrl, '/internal/openapi.json', { method: 'GET', key: null }), 401);
      const res = await internal(a.internalUrl, '/internal/openapi.json', { method: 'GET' });
      expect(res.status).toBe(200);
      expect(res.json.openapi).toBe('3.1.0');
      const expected = backEndpoints.filter((e) => e.exposed).map((e) => `/internal/${e.path}`);
      for (const path of expected) expect(res.json.paths[path].post).toBeDefined();
      expect(res.json.paths['/internal/auth/token']).toBeUndefined();
      expect(res.json.paths['/internal/sessions/revoke'].post).toBeDefined();
    });

    it('serves the public document on /api/openapi.json', async () => {
      const api = new ApiClient(a.url);
      const res = await api.get('/api/openapi.json');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.json.openapi).toBe('3.1.0');
      for (const e of frontEndpoints) {
        expect(res.json.paths[`/api/${e.path}`].post).toBeDefined();
        if (e.allowGet) expect(res.json.paths[`/api/${e.path}`].get).toBeDefined();
      }
      expect(res.json.components.securitySchemes.sessionCookie.name).toBe(a.settings.session.cookieName);
      expect(Object.keys(res.json.paths).some((p) => p.startsWith('/internal'))).toBe(false);
    });
  });
});
