import { frontEndpoints } from '../../src/upstream/catalogue';
import { ApiClient, type ApiResponse } from '../helpers/http';
import { startTestService, type TestService } from '../helpers/service';

/** Routing, then the session, then validation: an anonymous caller learns nothing of a route's schema. */
describe('the session before validation', () => {
  let svc: TestService;
  const withSession = frontEndpoints.filter((e) => e.token === 'user').map((e) => e.path);
  const malformed: [string, { body?: unknown; rawBody?: string; headers?: Record<string, string> }][] = [
    ['an unknown field', { body: { nosuchfield: 1 } }],
    ['a wrong type', { body: { action: 42, giftId: 7, page: 'x', lang: 5 } }],
    ['a __proto__ key', { rawBody: '{"__proto__":{"admin":true}}' }],
    ['a body that is not an object', { rawBody: '[1,2]' }],
    ['a body that is not JSON', { rawBody: '{"lang":' }],
    ['another content type', { rawBody: 'lang=fr', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }],
    ['an oversized body', { body: { param1: 'x'.repeat(17 * 1024) } }],
  ];

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc.close());

  function expectNotConnected(res: ApiResponse): void {
    expect({ status: res.status, type: res.headers.get('content-type') }).toEqual({ status: 401, type: expect.stringMatching(/^application\/problem\+json/) });
    expect(res.json.issues).toBeUndefined();
  }

  it.each(malformed)('answers 401 to an anonymous POST holding %s, on every route that needs a session', async (_label, request) => {
    const anon = new ApiClient(svc.url);
    const before = svc.sandbox.callCount();
    for (const path of withSession) expectNotConnected(await anon.request('POST', `/api/${path}`, request));
    expect(svc.sandbox.callCount()).toBe(before);
  });

  it('answers 401 to an anonymous GET with malformed query parameters', async () => {
    const anon = new ApiClient(svc.url);
    for (const path of frontEndpoints.filter((e) => e.token === 'user' && e.allowGet).map((e) => e.path)) {
      expectNotConnected(await anon.get(`/api/${path}?page=x&nosuchfield=1&lang=1`));
    }
  });

  it('validates once the session is there (400), and routes first (404)', async () => {
    const api = new ApiClient(svc.url);
    expect((await api.connect('session-first-1')).status).toBe(200);
    const bad = await api.post('/api/gift/checkavailability', { nosuchfield: 1 });
    expect(bad.status).toBe(400);
    expect(bad.json.issues).toContain('unknown field(s) nosuchfield');
    expect((await new ApiClient(svc.url).post('/api/gift/nosuchroute', { x: 1 })).status).toBe(404);
  });
});
