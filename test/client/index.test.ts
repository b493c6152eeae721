import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createMilesClient,
  MILES_ENDPOINTS,
  MilesApiError,
  MilesBusinessError,
  MilesNetworkError,
  MilesNotConnectedError,
  MilesProblemError,
} from '../../packages/client/src';
import { clientEndpointTable } from '../../src/routes/api-routes';
import { builtInCatalogue, frontEndpoints } from '../../src/upstream/catalogue';

/** A fetch that records each request and answers from a script. */
function fakeFetch(answer: (url: string, init: RequestInit) => Response | Promise<Response>) {
  const calls: { url: string; init: RequestInit; headers: Record<string, string> }[] = [];
  const fetch = async (url: string, init: RequestInit): Promise<Response> => {
    calls.push({ url, init, headers: { ...(init.headers as Record<string, string>) } });
    return answer(url, init);
  };
  return { fetch, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json; charset=utf-8', 'X-Request-Id': 'req-1', ...headers } });
const problem = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify({ type: 'https://miles-bff.dev/problems/x', title: 'T', status, detail: 'D', requestId: 'req-2', ...body }), {
    status,
    headers: { 'Content-Type': 'application/problem+json; charset=utf-8', ...headers },
  });
const ok = (data: unknown, extra: Record<string, unknown> = {}) => json(200, { errorCode: 0, errorMsg: 'ok', data, ...extra });

describe('the client endpoint table', () => {
  it('mirrors the catalogue: every front-end path, GET where the catalogue allows it, Idempotency-Key where it accepts one, a session where it needs one', () => {
    const table = Object.values(MILES_ENDPOINTS).map((e) => ({ path: e.path, get: e.get, idempotent: e.idempotent, session: e.session }));
    const catalogue = frontEndpoints.map((e) => ({ path: e.path, get: e.allowGet, idempotent: e.idempotent, session: e.needsSession }));
    const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);
    expect([...table].sort(byPath)).toEqual([...catalogue].sort(byPath));
    expect(new Set(table.map((e) => e.path)).size).toBe(table.length);
  });

  it("is the table the service serves at /api/endpoints.json for the built-in catalogue", () => {
    const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);
    expect([...Object.values(MILES_ENDPOINTS)].sort(byPath)).toEqual([...clientEndpointTable(builtInCatalogue).endpoints].sort(byPath));
  });

  it('holds no server code: the client package imports nothing outside itself', () => {
    const dir = join(__dirname, '..', '..', 'packages', 'client', 'src');
    let seen = 0;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(join(dir, file), 'utf8');
      // Static imports and re-exports (statements at the start of a line, not the doc comment's example), dynamic ones, require.
      const imports = [...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]|\brequire\s*\(\s*['"]([^'"]+)['"]/gm)].map(
        (m) => m[1] ?? m[2] ?? m[3],
      );
      seen += imports.length;
      for (const specifier of imports) expect(`${file}: ${specifier}`).toMatch(/: \.\/[a-z-]+(\.js)?$/);
    }
    expect(seen).toBeGreaterThan(0);
  });
});

describe('createMilesClient requests', () => {
  it('reads with GET and query parameters, credentials included, no CSRF header', async () => {
    const f = fakeFetch(() => ok({ burns: [], page: 2, total: 0 }));
    const miles = createMilesClient({ baseUrl: 'https://bff.example/', fetch: f.fetch });
    const result = await miles.historyBurns({ page: 2, limit: 5 });
    expect(result).toEqual({ ok: true, data: { burns: [], page: 2, total: 0 }, errorMsg: 'ok', status: 200, requestId: 'req-1' });
    expect(f.calls[0]!.url).toBe('https://bff.example/api/user/historyburns?page=2&limit=5');
    expect(f.calls[0]!.init.method).toBe('GET');
    expect(f.calls[0]!.init.credentials).toBe('include');
    expect(f.calls[0]!.init.body).toBeUndefined();
    expect(f.calls[0]!.headers).not.toHaveProperty('X-CSRF');
  });

  it('leaves absent parameters out, in the query and in the body', async () => {
    const f = fakeFetch(() => ok({}));
    const miles = createMilesClient({ fetch: f.fetch });
    await miles.getProgram();
    await miles.ads('specials');
    await miles.ads('news', 'fr');
    await miles.store('welcome');
    expect(f.calls.map((c) => c.url)).toEqual(['/api/partner/getprog', '/api/ad/specials', '/api/ad/news?lang=fr', '/api/generosity/store']);
    expect(f.calls[3]!.init.body).toBe('{"action":"welcome"}');
  });

  it('sends mutations as JSON POSTs with X-CSRF: 1', async () => {
    const f = fakeFetch(() => ok({ earn: { earnId: 'e1', action: 'purchase', points: 50, param1: 'o-1', date: '2024-01-01T00:00:00.000Z' }, points: 200 }));
    const miles = createMilesClient({ fetch: f.fetch });
    const { data } = await miles.store('purchase', { param1: 'o-1', lang: 'fr' });
    expect(data).toMatchObject({ points: 200 });
    const call = f.calls[0]!;
    expect(call.url).toBe('/api/generosity/store');
    expect(call.init.method).toBe('POST');
    expect(call.headers['X-CSRF']).toBe('1');
    expect(call.headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(call.init.body as string)).toEqual({ action: 'purchase', param1: 'o-1', lang: 'fr' });
    expect(call.headers).not.toHaveProperty('Idempotency-Key');
  });

  it('sends the Idempotency-Key given, or a fresh UUID for `true`, and says which', async () => {
    const f = fakeFetch(() => ok({ burn: { burnId: 'b1', giftId: 'coffee', name: 'Coffee', cost: 100, date: '2024-01-01T00:00:00.000Z' }, points: 50 }));
    const miles = createMilesClient({ fetch: f.fetch });
    const mine = await miles.buyGift('coffee', { idempotencyKey: 'order-42' });
    expect(f.calls[0]!.headers['Idempotency-Key']).toBe('order-42');
    expect(mine.idempotencyKey).toBe('order-42');
    const fresh1 = await miles.buyGift('coffee', { idempotencyKey: true });
    const fresh2 = await miles.store('review', { idempotencyKey: true });
    expect(fresh1.idempotencyKey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(fresh2.idempotencyKey).not.toBe(fresh1.idempotencyKey);
    expect(f.calls[1]!.headers['Idempotency-Key']).toBe(fresh1.idempotencyKey);
    expect(JSON.parse(f.calls[0]!.init.body as string)).toEqual({ giftId: 'coffee' });
  });

  it('refuses an Idempotency-Key on an endpoint that takes none, before any request', async () => {
    const f = fakeFetch(() => ok({}));
    const miles = createMilesClient({ fetch: f.fetch });
    await expect(miles.call('logout', {}, { idempotencyKey: true })).rejects.toThrow(TypeError);
    expect(f.calls).toHaveLength(0);
  });
});

describe('createMilesClient answers', () => {
  it('throws MilesBusinessError with the envelope for a refusal', async () => {
    const f = fakeFetch(() => json(409, { errorCode: 4, errorMsg: 'not enough points' }));
    const miles = createMilesClient({ fetch: f.fetch });
    const err = await miles.buyGift('weekend_trip', { idempotencyKey: 'k-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MilesBusinessError);
    expect(err).toBeInstanceOf(MilesApiError);
    expect(err).toMatchObject({ code: 'MILES_BUSINESS', errorCode: 4, errorMsg: 'not enough points', status: 409, requestId: 'req-1', idempotencyKey: 'k-1', endpoint: 'gift/checkavailability', name: 'MilesBusinessError' });
  });

  it('throws MilesNotConnectedError for 401, problem document or envelope alike', async () => {
    const answers = [
      problem(401, { code: 'ERR_UNAUTHENTICATED', title: 'Not connected' }),
      problem(401, { code: 'ERR_UNAUTHENTICATED', upstreamErrorCode: 3, errorCode: 3 }),
      json(401, { errorCode: 3, errorMsg: 'user not connected' }),
    ];
    const f = fakeFetch(() => answers.shift()!);
    const miles = createMilesClient({ fetch: f.fetch });
    const first = await miles.giftList().catch((e: unknown) => e);
    expect(first).toBeInstanceOf(MilesNotConnectedError);
    expect(first).toMatchObject({ status: 401, errorCode: undefined, problem: { code: 'ERR_UNAUTHENTICATED' } });
    expect(await miles.giftList().catch((e: unknown) => e)).toMatchObject({ errorCode: 3 });
    const third = await miles.giftList().catch((e: unknown) => e);
    expect(third).toBeInstanceOf(MilesNotConnectedError);
    expect(third).toMatchObject({ errorCode: 3, problem: undefined });
  });

  it('throws MilesProblemError with the problem fields and Retry-After', async () => {
    const f = fakeFetch(() => problem(429, { code: 'ERR_RATE_LIMITED', title: 'Too many requests' }, { 'Retry-After': '7' }));
    const miles = createMilesClient({ fetch: f.fetch });
    const err = await miles.store('review').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MilesProblemError);
    expect(err).toMatchObject({
      code: 'MILES_PROBLEM',
      status: 429,
      title: 'Too many requests',
      detail: 'D',
      problemCode: 'ERR_RATE_LIMITED',
      retryAfter: 7,
      type: 'https://miles-bff.dev/problems/x',
    });
    expect((err as MilesProblemError).problem.requestId).toBe('req-2');
  });

  it('keeps upstreamErrorCode of a 502 problem', async () => {
    const f = fakeFetch(() => problem(502, { code: 'ERR_UPSTREAM_FAULT', upstreamErrorCode: 99 }));
    const err = await createMilesClient({ fetch: f.fetch }).getProgram().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 502, upstreamErrorCode: 99, problemCode: 'ERR_UPSTREAM_FAULT' });
  });

  it('turns an answer that is neither envelope nor problem into an about:blank MilesProblemError', async () => {
    const answers = [
      new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway', headers: { 'Content-Type': 'text/html' } }),
      json(200, { hello: 'world' }),
      new Response('', { status: 200 }),
    ];
    const f = fakeFetch(() => answers.shift()!);
    const miles = createMilesClient({ fetch: f.fetch });
    expect(await miles.getProgram().catch((e: unknown) => e)).toMatchObject({ type: 'about:blank', status: 502, title: 'Bad Gateway' });
    expect(await miles.getProgram().catch((e: unknown) => e)).toMatchObject({ type: 'about:blank', status: 200 });
    expect(await miles.getProgram().catch((e: unknown) => e)).toBeInstanceOf(MilesProblemError);
  });

  it('throws MilesNetworkError when no answer arrives, and says when the caller aborted', async () => {
    const down = createMilesClient({
      fetch: () => Promise.reject(new TypeError('fetch failed')),
    });
    const err = await down.store('review', { idempotencyKey: 'k-9' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MilesNetworkError);
    expect(err).toMatchObject({ code: 'MILES_NETWORK', status: 0, aborted: false, idempotencyKey: 'k-9' });
    expect((err as Error).cause).toBeInstanceOf(TypeError);

    const controller = new AbortController();
    const slow = createMilesClient({
      fetch: (_url, init) =>
        new Promise((_resolve, reject) => init.signal!.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))),
    });
    const pending = slow.giftList({}, { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort();
    expect(await pending).toMatchObject({ code: 'MILES_NETWORK', aborted: true });
  });

  it('answers session() with the service’s own document', async () => {
    const f = fakeFetch(() => json(200, { connected: true, user: { partnerClientId: 'u1', email: null, firstName: null, lastName: null } }));
    const { data } = await createMilesClient({ fetch: f.fetch }).session();
    expect(data.connected && data.user.partnerClientId).toBe('u1');
    expect(f.calls[0]!.url).toBe('/api/session');
    expect(f.calls[0]!.init.method).toBe('GET');
  });
});

describe('the token transport', () => {
  const connectAnswer = () =>
    ok({ user: { partnerClientId: 'u1', email: '', firstName: '', lastName: '', points: 150, optIn: false } }, { session: { token: 'mbs.abc', expiresIn: 1800 } });

  it('asks for a token at connect, keeps it, sends it as a bearer, and forgets it at logout', async () => {
    const answers = [connectAnswer(), ok({ gifts: [] }), ok({})];
    const f = fakeFetch(() => answers.shift()!);
    const seen: (string | undefined)[] = [];
    const miles = createMilesClient({ fetch: f.fetch, transport: 'token', onTokenChange: (t) => seen.push(t) });
    const connected = await miles.connect({ partnerClientId: 'u1' });
    expect(connected.session).toEqual({ token: 'mbs.abc', expiresIn: 1800 });
    expect(miles.token).toBe('mbs.abc');
    expect(f.calls[0]!.headers['X-Session-Transport']).toBe('token');
    expect(f.calls[0]!.headers).not.toHaveProperty('Authorization');
    expect(f.calls[0]!.init.credentials).toBe('omit');

    await miles.giftList();
    expect(f.calls[1]!.headers.Authorization).toBe('Bearer mbs.abc');
    await miles.logout();
    expect(f.calls[2]!.headers.Authorization).toBe('Bearer mbs.abc');
    expect(miles.token).toBeUndefined();
    expect(seen).toEqual(['mbs.abc', undefined]);
  });

  it('starts from a kept token, and drops it when the service answers 401', async () => {
    const answers = [problem(401, { code: 'ERR_UNAUTHENTICATED' }), ok({ gifts: [] })];
    const f = fakeFetch(() => answers.shift()!);
    const miles = createMilesClient({ fetch: f.fetch, transport: 'token', token: 'mbs.old' });
    await expect(miles.giftList()).rejects.toBeInstanceOf(MilesNotConnectedError);
    expect(f.calls[0]!.headers.Authorization).toBe('Bearer mbs.old');
    expect(miles.token).toBeUndefined();
    await miles.getProgram();
    expect(f.calls[1]!.headers).not.toHaveProperty('Authorization');
  });

  it('sends an ID token at connect for the jwt identity mode', async () => {
    const f = fakeFetch(() => connectAnswer());
    const miles = createMilesClient({ fetch: f.fetch, transport: 'token' });
    await miles.connect({}, { idToken: 'eyJ.id.token' });
    expect(f.calls[0]!.headers.Authorization).toBe('Bearer eyJ.id.token');
    expect(JSON.parse(f.calls[0]!.init.body as string)).toEqual({});
  });

  it('refuses a connect answer without a session token', async () => {
    const f = fakeFetch(() => ok({ user: { partnerClientId: 'u1' } }));
    const miles = createMilesClient({ fetch: f.fetch, transport: 'token' });
    await expect(miles.connect({ partnerClientId: 'u1' })).rejects.toMatchObject({ title: 'No session token' });
    expect(miles.token).toBeUndefined();
  });

  it('ignores a token given to a cookie client', async () => {
    const f = fakeFetch(() => ok({ gifts: [] }));
    const miles = createMilesClient({ fetch: f.fetch, token: 'mbs.x' });
    await miles.giftList();
    expect(f.calls[0]!.headers).not.toHaveProperty('Authorization');
    expect(miles.token).toBeUndefined();
  });
});

describe('the OpenID Connect sign-in navigations', () => {
  it('builds the sign-in URL with a returnTo path, and the sign-out URL', () => {
    const miles = createMilesClient({ baseUrl: 'https://shop.example/' });
    expect(miles.signInUrl('/points?tab=1')).toBe('https://shop.example/api/auth/login?returnTo=%2Fpoints%3Ftab%3D1');
    expect(miles.signOutUrl()).toBe('https://shop.example/api/auth/logout');
  });

  it('follows the paths of the service table', () => {
    const miles = createMilesClient({ endpoints: { endpoints: [], signIn: { login: 'sso/in', logout: 'sso/out' } } });
    expect(miles.signInUrl('/')).toBe('/api/sso/in?returnTo=%2F');
    expect(miles.signOutUrl()).toBe('/api/sso/out');
  });

  it('needs a browser page to navigate', () => {
    expect(() => createMilesClient().signIn('/')).toThrow(TypeError);
    expect(() => createMilesClient().signOut()).toThrow(TypeError);
  });
});
