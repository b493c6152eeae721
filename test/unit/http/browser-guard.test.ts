import type { RequestHandler } from 'express';
import { browserGuard } from '../../../src/http/browser-guard';
import { startMiddlewareApp, type MiddlewareApp, type RawAnswer } from '../../helpers/middleware-app';

const ALLOWED = 'https://shop.example';
const FOREIGN = 'https://evil.example';
const CONNECT = '/user/clientcheckcredentials';
const SESSION_TOKEN = 'Bearer mbs.abc.def';
const ID_TOKEN = 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';

/** What the public routes do: each route has its own guard, the connect's exempting an ID token in IDENTITY_MODE=jwt. */
function guardPerRoute(connectGuard: RequestHandler, guard: RequestHandler): RequestHandler {
  return (req, res, next) => (req.path === CONNECT ? connectGuard : guard)(req, res, next);
}

function expectRefused(res: RawAnswer, detail: RegExp): void {
  expect(res.status).toBe(403);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect((res.json as { detail: string }).detail).toMatch(detail);
}

describe('browserGuard', () => {
  let app: MiddlewareApp;
  let jwtApp: MiddlewareApp;
  beforeAll(async () => {
    app = await startMiddlewareApp([browserGuard({ allowedOrigins: [ALLOWED] })]);
    jwtApp = await startMiddlewareApp([guardPerRoute(browserGuard({ allowedOrigins: [ALLOWED], idTokenConnect: true }), browserGuard({ allowedOrigins: [ALLOWED] }))]);
  });
  afterAll(async () => {
    await app?.close();
    await jwtApp?.close();
  });

  describe('CORS preflight', () => {
    it('answers an allowed origin 204 with credentials, the methods, the headers the API reads and a cache age, and goes no further', async () => {
      const before = app.reached();
      const res = await app.request('OPTIONS', '/generosity/store', {
        headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type, x-csrf' },
      });
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-allow-methods']).toBe('GET, POST');
      const allowedHeaders = String(res.headers['access-control-allow-headers']).split(/,\s*/);
      expect(allowedHeaders).toEqual(expect.arrayContaining(['Content-Type', 'X-CSRF', 'Idempotency-Key', 'Authorization', 'X-Session-Transport']));
      expect(res.headers['access-control-max-age']).toBe('600');
      expect(res.headers.vary).toMatch(/\bOrigin\b/);
      expect(app.reached()).toBe(before);
    });

    it.each([
      ['a foreign origin', { Origin: FOREIGN }],
      ['no origin', {}],
      ['the origin with another scheme', { Origin: 'http://shop.example' }],
      ['a subdomain of the allowed origin', { Origin: 'https://a.shop.example' }],
    ])('refuses %s with 403 and no CORS header', async (_label, headers: Record<string, string>) => {
      const res = await app.request('OPTIONS', '/generosity/store', { headers: { ...headers, 'Access-Control-Request-Method': 'POST' } });
      expectRefused(res, /Origin not allowed/);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    });
  });

  describe('Origin', () => {
    it('lets the service own origin, an allowed origin and a request without Origin through', async () => {
      expect((await app.request('GET', '/session', { headers: { Origin: app.url } })).status).toBe(200);
      expect((await app.request('GET', '/session')).status).toBe(200);
      const allowed = await app.request('GET', '/session', { headers: { Origin: ALLOWED } });
      expect(allowed.status).toBe(200);
      expect(allowed.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(String(allowed.headers['access-control-expose-headers']).split(/,\s*/)).toEqual(expect.arrayContaining(['X-Request-Id', 'Retry-After', 'ETag']));
      expect(allowed.headers.vary).toMatch(/\bOrigin\b/);
    });

    it('refuses a foreign origin, on a read too, before anything behind it runs', async () => {
      const before = app.reached();
      expectRefused(await app.request('GET', '/session', { headers: { Origin: FOREIGN } }), /Origin not allowed/);
      expectRefused(await app.request('POST', '/generosity/store', { headers: { Origin: FOREIGN, 'X-CSRF': '1' } }), /Origin not allowed/);
      expectRefused(await app.request('GET', '/session', { headers: { Origin: 'null' } }), /Origin not allowed/);
      expect(app.reached()).toBe(before);
    });

    it('takes the own origin from the Host the request was addressed to', async () => {
      expect((await app.request('GET', '/session', { headers: { Origin: 'http://bff.example', Host: 'bff.example' } })).status).toBe(200);
      expectRefused(await app.request('GET', '/session', { headers: { Origin: 'https://bff.example', Host: 'bff.example' } }), /Origin not allowed/);
    });
  });

  describe('Sec-Fetch-Site', () => {
    it('refuses a cross-site request that carries a cookie', async () => {
      expectRefused(await app.request('GET', '/session', { headers: { 'Sec-Fetch-Site': 'cross-site', Cookie: 'miles.sid=x' } }), /Cross-site/);
    });

    it('lets a cross-site request without cookie, a same-site one, and one from an allowed origin through', async () => {
      expect((await app.request('GET', '/session', { headers: { 'Sec-Fetch-Site': 'cross-site' } })).status).toBe(200);
      expect((await app.request('GET', '/session', { headers: { 'Sec-Fetch-Site': 'same-site', Cookie: 'miles.sid=x' } })).status).toBe(200);
      expect((await app.request('GET', '/session', { headers: { 'Sec-Fetch-Site': 'same-origin', Cookie: 'miles.sid=x' } })).status).toBe(200);
      expect((await app.request('GET', '/session', { headers: { 'Sec-Fetch-Site': 'cross-site', Cookie: 'miles.sid=x', Origin: ALLOWED } })).status).toBe(200);
    });
  });

  describe('X-CSRF', () => {
    it.each(['POST', 'PUT', 'PATCH', 'DELETE'])('requires X-CSRF: 1 on %s', async (method) => {
      const before = app.reached();
      expectRefused(await app.request(method, '/generosity/store'), /X-CSRF/);
      expectRefused(await app.request(method, '/generosity/store', { headers: { 'X-CSRF': 'true' } }), /X-CSRF/);
      expectRefused(await app.request(method, '/generosity/store', { headers: { 'X-CSRF': '0' } }), /X-CSRF/);
      expect(app.reached()).toBe(before);
      expect((await app.request(method, '/generosity/store', { headers: { 'X-CSRF': '1' } })).status).toBe(200);
    });

    it.each(['GET', 'HEAD'])('asks nothing of %s', async (method) => {
      expect((await app.request(method, '/session')).status).toBe(200);
    });
  });

  describe('bearer credentials', () => {
    it('exempts a request carrying a session token from the X-CSRF, Origin and Sec-Fetch-Site rules', async () => {
      expect((await app.request('POST', '/generosity/store', { headers: { Authorization: SESSION_TOKEN } })).status).toBe(200);
      expect((await app.request('POST', '/generosity/store', { headers: { Authorization: SESSION_TOKEN, Origin: FOREIGN } })).status).toBe(200);
      const crossSite = await app.request('POST', '/generosity/store', { headers: { Authorization: SESSION_TOKEN, 'Sec-Fetch-Site': 'cross-site', Cookie: 'miles.sid=x' } });
      expect(crossSite.status).toBe(200);
    });

    it('still answers CORS for an allowed origin, and still refuses a preflight from a foreign one', async () => {
      const allowed = await app.request('POST', '/generosity/store', { headers: { Authorization: SESSION_TOKEN, Origin: ALLOWED } });
      expect([allowed.status, allowed.headers['access-control-allow-origin']]).toEqual([200, ALLOWED]);
      expectRefused(await app.request('OPTIONS', '/generosity/store', { headers: { Authorization: SESSION_TOKEN, Origin: FOREIGN } }), /Origin not allowed/);
    });

    it.each([
      ['Basic credentials a browser adds by itself', 'Basic dXNlcjpwYXNz'],
      ['a bearer token that is no session token', ID_TOKEN],
      ['a malformed bearer', 'Bearer mbs.a b'],
      ['an empty bearer', 'Bearer '],
      ['a session token without its scheme', 'mbs.abc.def'],
    ])('does not exempt %s', async (_label, authorization) => {
      expectRefused(await app.request('POST', '/generosity/store', { headers: { Authorization: authorization } }), /X-CSRF/);
      expectRefused(await app.request('GET', '/session', { headers: { Authorization: authorization, Origin: FOREIGN } }), /Origin not allowed/);
    });

    it('exempts an ID token on the connect route of IDENTITY_MODE=jwt only', async () => {
      expect((await jwtApp.request('POST', CONNECT, { headers: { Authorization: ID_TOKEN, Origin: FOREIGN } })).status).toBe(200);
      expectRefused(await jwtApp.request('POST', '/generosity/store', { headers: { Authorization: ID_TOKEN } }), /X-CSRF/);
      expectRefused(await app.request('POST', CONNECT, { headers: { Authorization: ID_TOKEN } }), /X-CSRF/);
      // The session token is a bearer credential on every route, connect included.
      expect((await jwtApp.request('POST', '/generosity/store', { headers: { Authorization: SESSION_TOKEN } })).status).toBe(200);
    });
  });
});
