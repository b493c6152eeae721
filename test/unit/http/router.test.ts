import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { Unauthenticated } from '../../../src/errors';
import { errorHandler } from '../../../src/http/problem';
import { requestContextOf } from '../../../src/http/request-context';
import { requestId } from '../../../src/http/request-id';
import { allowOf, listenerRouter, type Area, type Route } from '../../../src/http/router';
import { createLogger } from '../../../src/observability/logger';

/** Each listener's router in a real Express app on an ephemeral port, its steps recording what ran. */
interface Listener {
  readonly url: string;
  readonly ran: string[];
  close(): Promise<void>;
}

const logger = createLogger({ level: 'silent' });

function step(ran: string[], name: string): RequestHandler {
  return (_req, _res, next) => {
    ran.push(name);
    next();
  };
}

/** Answers the route the request context recorded, so a test sees what was resolved. */
function answer(ran: string[], name: string): RequestHandler {
  return (req, res) => {
    ran.push(name);
    res.status(200).json({ route: requestContextOf(res).route, method: req.method });
  };
}

async function listen(areas: readonly Area[], build: (ran: string[]) => Route[]): Promise<Listener> {
  const ran: string[] = [];
  const app = express();
  app.use(requestId());
  app.use(listenerRouter(areas, build(ran)));
  app.use((_req, res) => {
    res.status(418).end();
  });
  app.use(errorHandler(logger));
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, ran, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The public listener's shape: a guard after resolution that answers preflights. */
function publicRoutes(ran: string[]): Route[] {
  const guard: RequestHandler = (req, res, next) => {
    ran.push('guard');
    if (req.method === 'OPTIONS') res.status(204).end();
    else next();
  };
  return [
    { path: '/api/partner/getprog', guard: [guard], methods: { GET: [answer(ran, 'getprog GET')], POST: [step(ran, 'body'), answer(ran, 'getprog POST')] } },
    { path: '/api/generosity/store', guard: [guard], methods: { POST: [answer(ran, 'store')] } },
    { path: '/api/session', guard: [guard], methods: { GET: [answer(ran, 'session')] } },
  ];
}

/** The internal listener's shape: a key checked for the whole prefix before resolution, and the probes. */
function internalRoutes(ran: string[]): Route[] {
  return [
    { path: '/healthz', methods: { GET: [answer(ran, 'healthz')] } },
    { path: '/internal/user/info', methods: { POST: [answer(ran, 'user/info')] } },
  ];
}

const keyCheck: RequestHandler = (req, _res, next) => {
  if (req.headers.authorization === 'Bearer k') next();
  else next(new Unauthenticated('no key'));
};

describe('listenerRouter: the public listener', () => {
  let api: Listener;
  beforeAll(async () => {
    api = await listen([{ prefix: '/api' }], publicRoutes);
  });
  afterAll(async () => api.close());
  beforeEach(() => api.ran.splice(0));

  it('resolves a path and a method to its steps, the guard first, and names the route in the request context', async () => {
    const res = await fetch(`${api.url}/api/partner/getprog`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ route: '/api/partner/getprog', method: 'POST' });
    expect(api.ran).toEqual(['guard', 'body', 'getprog POST']);
  });

  it('answers HEAD with the GET steps', async () => {
    const res = await fetch(`${api.url}/api/partner/getprog`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(api.ran).toEqual(['guard', 'getprog GET']);
  });

  it.each([
    ['PUT', '/api/partner/getprog', 'GET, HEAD, POST'],
    ['DELETE', '/api/partner/getprog', 'GET, HEAD, POST'],
    ['GET', '/api/generosity/store', 'POST'],
    ['POST', '/api/session', 'GET, HEAD'],
  ])('answers %s %s with 405 and Allow: %s, before the guard', async (method, path, allow) => {
    const res = await fetch(`${api.url}${path}`, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe(allow);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await res.json()).code).toBe('ERR_METHOD_NOT_ALLOWED');
    expect(api.ran).toEqual([]);
  });

  it.each(['/api', '/api/', '/api/nope', '/api/partner/getprog/', '/api/partner', '/api/partner/getprog/x', '/api/partner%2Fgetprog'])('answers 404 problem+json under /api for %s, before the guard', async (path) => {
    for (const method of ['GET', 'POST', 'OPTIONS']) {
      const res = await fetch(`${api.url}${path}`, { method });
      expect([method, path, res.status]).toEqual([method, path, 404]);
      expect((await res.json()).code).toBe('ERR_NOT_FOUND');
    }
    expect(api.ran).toEqual([]);
  });

  it('matches paths case-sensitively', async () => {
    const res = await fetch(`${api.url}/api/Partner/getprog`);
    expect(res.status).toBe(404);
    expect(api.ran).toEqual([]);
  });

  it('lets the guard alone answer a preflight on a route that has one', async () => {
    const res = await fetch(`${api.url}/api/generosity/store`, { method: 'OPTIONS' });
    expect(res.status).toBe(204);
    expect(api.ran).toEqual(['guard']);
  });

  it('leaves paths outside its areas to what follows it', async () => {
    const res = await fetch(`${api.url}/elsewhere`);
    expect(res.status).toBe(418);
  });
});

describe('listenerRouter: the internal listener', () => {
  let internal: Listener;
  beforeAll(async () => {
    internal = await listen([{ prefix: '/internal', before: [keyCheck] }], internalRoutes);
  });
  afterAll(async () => internal.close());
  beforeEach(() => internal.ran.splice(0));

  it('checks the key before resolving: an anonymous caller gets 401 on known and unknown paths alike', async () => {
    for (const path of ['/internal/user/info', '/internal/nope', '/internal']) {
      const res = await fetch(`${internal.url}${path}`, { method: 'POST' });
      expect([path, res.status]).toEqual([path, 401]);
    }
    expect(internal.ran).toEqual([]);
  });

  it('resolves with a key: the route, 404 for an unknown path, 405 with Allow for a wrong method', async () => {
    const headers = { Authorization: 'Bearer k' };
    const ok = await fetch(`${internal.url}/internal/user/info`, { method: 'POST', headers });
    expect(await ok.json()).toEqual({ route: '/internal/user/info', method: 'POST' });
    expect((await fetch(`${internal.url}/internal/nope`, { method: 'POST', headers })).status).toBe(404);
    const wrong = await fetch(`${internal.url}/internal/user/info`, { headers });
    expect([wrong.status, wrong.headers.get('allow')]).toEqual([405, 'POST']);
    expect(internal.ran).toEqual(['user/info']);
  });

  it('serves a probe without a key, and answers another method on it 405 with Allow, OPTIONS included', async () => {
    expect(await (await fetch(`${internal.url}/healthz`)).json()).toEqual({ route: '/healthz', method: 'GET' });
    for (const method of ['POST', 'PUT', 'OPTIONS']) {
      const res = await fetch(`${internal.url}/healthz`, { method });
      expect([method, res.status, res.headers.get('allow')]).toEqual([method, 405, 'GET, HEAD']);
    }
    expect(internal.ran).toEqual(['healthz']);
  });
});

describe('listenerRouter: checked when built', () => {
  const noop: RequestHandler = (_req, _res, next) => next();

  it('refuses two routes for one path, a path that is not plain, and a route without a method', () => {
    expect(() => listenerRouter([], [{ path: '/a', methods: { GET: [noop] } }, { path: '/a', methods: { POST: [noop] } }])).toThrow('two routes for /a');
    expect(() => listenerRouter([], [{ path: '/a/:id', methods: { GET: [noop] } }])).toThrow('"/a/:id" is not a plain path');
    expect(() => listenerRouter([], [{ path: '/a', methods: {} }])).toThrow('/a has no method');
    expect(() => listenerRouter([], [{ path: '/a', methods: { GET: [] } }])).toThrow('/a has no step for GET');
  });

  it('writes Allow from the methods: GET with its HEAD, then POST', () => {
    expect(allowOf({ path: '/a', methods: { POST: [noop], GET: [noop] } })).toBe('GET, HEAD, POST');
    expect(allowOf({ path: '/a', methods: { POST: [noop] } })).toBe('POST');
  });
});
