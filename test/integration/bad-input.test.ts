import http from 'node:http';
import { ApiClient } from '../helpers/http';
import { startTestService, type TestService } from '../helpers/service';

/**
 * Malformed, oversized, foreign or tricky requests get a clear 4xx
 * problem answer and never reach the upstream.
 */
describe('bad input on /api', () => {
  let svc: TestService;
  let api: ApiClient;
  beforeAll(async () => {
    svc = await startTestService({ env: { ALLOWED_ORIGINS: 'https://shop.example' } });
    api = new ApiClient(svc.url);
    await api.connect('bad-input-1');
  });
  afterAll(async () => {
    await svc.close();
  });

  async function refused(res: Promise<{ status: number; headers: Headers; json: { status?: number; requestId?: string } }>, status: number): Promise<void> {
    const before = svc.sandbox.callCount();
    const r = await res;
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.json.status).toBe(status);
    expect(r.json.requestId).toBe(r.headers.get('x-request-id'));
    expect(svc.sandbox.callCount()).toBe(before);
  }

  it.each([
    ['an unknown field', { action: 'review', extra: 1 }],
    ['a wrong type', { action: 42 }],
    ['a missing required field', {}],
    ['an over-long field', { action: 'x'.repeat(65) }],
    ['a __proto__ key', JSON.parse('{"action":"review","__proto__":{"admin":true}}')],
    ['a constructor key', { action: 'review', constructor: 'x' }],
    ['a control character', { action: 'rev\u0000iew' }],
  ])('refuses %s with 400', async (_label, body) => {
    await refused(api.post('/api/generosity/store', body), 400);
  });

  it('refuses bodies that are not JSON objects', async () => {
    await refused(api.post('/api/gift/list', undefined, { rawBody: '[1,2]' }), 400);
    await refused(api.post('/api/gift/list', undefined, { rawBody: '"text"' }), 400);
    await refused(api.post('/api/gift/list', undefined, { rawBody: 'null' }), 400);
    await refused(api.post('/api/gift/list', undefined, { rawBody: '{"lang":' }), 400);
  });

  it('refuses other content types with 415 and oversized bodies with 413', async () => {
    await refused(api.post('/api/gift/list', undefined, { rawBody: 'lang=fr', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }), 415);
    await refused(api.post('/api/gift/list', undefined, { rawBody: '{}', headers: { 'Content-Type': 'text/plain' } }), 415);
    await refused(api.post('/api/generosity/store', undefined, { rawBody: JSON.stringify({ action: 'review', param1: 'x'.repeat(17 * 1024) }) }), 413);
  });

  it('treats an empty body as {}', async () => {
    const r = await api.request('POST', '/api/gift/list', { headers: { 'Content-Length': '0' } });
    expect(r.status).toBe(200);
  });

  it('checks GET query parameters against the schema', async () => {
    await refused(api.get('/api/user/historyearns?limit=500'), 400);
    await refused(api.get('/api/user/historyearns?page=abc'), 400);
    await refused(api.get('/api/user/historyearns?page=1&page=2'), 400);
    await refused(api.get('/api/gift/list?unknown=1'), 400);
    expect((await api.get('/api/user/historyearns?page=2&limit=3')).status).toBe(200);
  });

  it.each([
    '/api/nope',
    '/api/partner/getprog/',
    '/api/Partner/GetProg',
    '/api/partner%2Fgetprog',
    '/api//partner/getprog',
    '/api/auth/token',
    '/api/buffer/store',
    '/api/user/multidelete',
    '/internal/user/info',
    '/healthz',
    '/readyz',
    '/metrics',
  ])('answers 404 for %s, with or without a session', async (path) => {
    await refused(api.post(path, {}), 404);
    await refused(new ApiClient(svc.url).get(path), 404);
  });

  it.each(['/api/partner/%2e%2e/partner/getprog', '/api/partner/../partner/getprog', '/api/x/%2E%2E/gift/list', '/api/gift%2flist'])(
    'answers 404 for the raw path %s (sent unnormalised)',
    async (path) => {
      const before = svc.sandbox.callCount();
      const { status, contentType } = await new Promise<{ status: number; contentType: string }>((resolve, reject) => {
        const req = http.request(`${svc.url}/`, { method: 'GET', path }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']) }));
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(404);
      expect(contentType).toMatch(/^application\/problem\+json/);
      expect(svc.sandbox.callCount()).toBe(before);
    },
  );

  it('answers 405 with Allow for a wrong method', async () => {
    const r = await api.request('PUT', '/api/gift/list', { body: {} });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toContain('POST');
  });

  it('needs X-CSRF: 1 on state-changing cookie requests', async () => {
    await refused(api.post('/api/generosity/store', { action: 'review' }, { csrf: false }), 403);
    await refused(api.post('/api/generosity/store', { action: 'review' }, { csrf: false, headers: { 'X-CSRF': 'yes' } }), 403);
  });

  it('refuses foreign origins, and answers CORS for the allowed ones only', async () => {
    await refused(api.post('/api/generosity/store', { action: 'review' }, { headers: { Origin: 'https://evil.example' } }), 403);
    await refused(api.get('/api/gift/list', { headers: { Origin: 'https://evil.example' } }), 403);
    await refused(api.get('/api/gift/list', { headers: { 'Sec-Fetch-Site': 'cross-site' } }), 403);
    const preflightBad = await fetch(`${svc.url}/api/generosity/store`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
    expect(preflightBad.status).toBe(403);
    expect(preflightBad.headers.get('access-control-allow-origin')).toBeNull();

    const preflight = await fetch(`${svc.url}/api/generosity/store`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://shop.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-csrf' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-CSRF/i);

    const ok = await api.post('/api/generosity/store', { action: 'review' }, { headers: { Origin: 'https://shop.example' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    const own = await api.post('/api/generosity/store', { action: 'review' }, { headers: { Origin: svc.url } });
    expect(own.status).toBe(200);
  });

  it('needs a session on every route but getprog and connect', async () => {
    const anon = new ApiClient(svc.url);
    for (const path of ['partner/initialcheckstore', 'user/historyburns', 'user/historyearns', 'user/logout', 'user/delete', 'gift/list', 'ad/bonus', 'ad/specials', 'ad/news']) {
      await refused(anon.post(`/api/${path}`, {}), 401);
    }
    await refused(anon.post('/api/generosity/store', { action: 'review' }), 401);
    await refused(anon.post('/api/gift/checkavailability', { giftId: 'coffee' }), 401);
  });

  it('carries a safe X-Request-Id through, and replaces an unsafe one', async () => {
    const good = await api.get('/api/gift/list', { headers: { 'X-Request-Id': 'req-1.2_3' } });
    expect(good.headers.get('x-request-id')).toBe('req-1.2_3');
    expect(svc.sandbox.calls[svc.sandbox.calls.length - 1]!.headers['x-request-id']).toBe('req-1.2_3');
    const bad = await api.get('/api/gift/list', { headers: { 'X-Request-Id': 'has space<script>' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sets helmet headers on every answer, errors included', async () => {
    for (const r of [await api.get('/api/gift/list'), await api.get('/api/nope')]) {
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('content-security-policy')).toBeTruthy();
      expect(r.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('honours BROWSER_ACTIONS', async () => {
    const strict = await startTestService({ env: { BROWSER_ACTIONS: 'review,purchase' } });
    try {
      const c = new ApiClient(strict.url);
      await c.connect('browser-actions-1');
      const before = strict.sandbox.callCount('generosity/store');
      const r = await c.post('/api/generosity/store', { action: 'welcome' });
      expect(r.status).toBe(403);
      expect(strict.sandbox.callCount('generosity/store')).toBe(before);
      expect((await c.post('/api/generosity/store', { action: 'review' })).status).toBe(200);
    } finally {
      await strict.close();
    }
  });
});
