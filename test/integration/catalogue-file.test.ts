import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sandbox, SandboxCall } from '../../src/sandbox';
import { ApiClient } from '../helpers/http';
import { startTestSandbox, startTestService, type TestService } from '../helpers/service';

const KEY = 'catalogue-file-key-0123456789abcdef';

/** A catalogue file as an operator would write it for readings of the real API. */
const OVERRIDES = {
  endpoints: {
    'gift/list': { fields: { category: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[a-z]+$', description: 'Gift category.' } } },
    'user/historyburns': { fields: { limit: { maximum: 50 } } },
    'user/clientcheckcredentials': { fields: { referrer: { type: 'string', maxLength: 32 } } },
    'ad/news': { exposed: false },
    'partner/stores': { side: 'front', effect: 'read', get: true, summary: 'Stores near the user.', fields: { city: { type: 'string', maxLength: 64, required: true } } },
    'user/info': { side: 'front', token: 'backend', exposeBackEndToBrowsers: true },
    'user/points': { side: 'back', effect: 'read', summary: "A user's points.", fields: { partnerClientId: { type: 'string', maxLength: 128, required: true } } },
  },
};

/** The routes, validation and documents of the service follow APM_CATALOGUE_FILE, against the sandbox over HTTP. */
describe('APM_CATALOGUE_FILE end to end', () => {
  let sandbox: Sandbox;
  let amended: TestService;
  let builtIn: TestService;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalogue-e2e-'));
    const file = join(dir, 'catalogue.json');
    writeFileSync(file, JSON.stringify(OVERRIDES));
    sandbox = await startTestSandbox();
    amended = await startTestService({ sandbox, env: { APM_CATALOGUE_FILE: file, INTERNAL_API_KEYS: `catalogue:${KEY}` } });
    builtIn = await startTestService({ sandbox, env: { INTERNAL_API_KEYS: `catalogue:${KEY}` } });
  });
  afterAll(async () => {
    await amended.close();
    await builtIn.close();
    await sandbox.close();
  });

  const lastCallTo = (path: string): SandboxCall | undefined => [...sandbox.calls].reverse().find((c) => c.path === path || c.path.endsWith(`/${path}`));
  const connected = async (svc: TestService, id: string): Promise<ApiClient> => {
    const api = new ApiClient(svc.url);
    expect((await api.connect(id)).status).toBe(200);
    return api;
  };

  it('accepts and forwards a field the file adds, exactly as sent; without the file it is 400 and nothing is forwarded', async () => {
    const api = await connected(amended, 'catalogue-field-1');
    const before = sandbox.callCount('gift/list');
    const res = await api.post('/api/gift/list', { lang: 'en', category: 'drinks' });
    expect(sandbox.callCount('gift/list')).toBe(before + 1);
    expect(lastCallTo('gift/list')!.body).toBe('{"lang":"en","category":"drinks"}');
    // The sandbox knows only the built-in reading: the refusal is the upstream's envelope, not the service's validation.
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json).toMatchObject({ errorCode: 2, errorMsg: expect.stringMatching(/category/) });
    const viaGet = await api.get('/api/gift/list?category=drinks');
    expect(lastCallTo('gift/list')!.body).toBe('{"category":"drinks"}');
    expect(viaGet.json).toMatchObject({ errorCode: 2 });
    // The file's limits hold too.
    expect((await api.post('/api/gift/list', { category: 'Drinks!' })).status).toBe(400);

    const plain = await connected(builtIn, 'catalogue-field-2');
    const calls = sandbox.callCount('gift/list');
    const refused = await plain.post('/api/gift/list', { lang: 'en', category: 'drinks' });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.json.issues).toEqual(['unknown field(s) category']);
    expect(sandbox.callCount('gift/list')).toBe(calls);
  });

  it('forwards a field the file adds to connect, beside the identity', async () => {
    const api = new ApiClient(amended.url);
    await api.connect('catalogue-connect-1', { referrer: 'newsletter' });
    expect(JSON.parse(lastCallTo('user/clientcheckcredentials')!.body)).toEqual({ partnerClientId: 'catalogue-connect-1', referrer: 'newsletter' });
  });

  it('applies a tightened limit', async () => {
    const api = await connected(amended, 'catalogue-limit-1');
    expect((await api.get('/api/user/historyburns?limit=80')).status).toBe(400);
    expect((await api.get('/api/user/historyburns?limit=50')).status).toBe(200);
    expect((await (await connected(builtIn, 'catalogue-limit-2')).get('/api/user/historyburns?limit=80')).status).toBe(200);
  });

  it('takes a removed endpoint off /api (404) and out of the documents', async () => {
    const api = await connected(amended, 'catalogue-removed-1');
    const calls = sandbox.callCount('ad/news');
    expect((await api.get('/api/ad/news')).status).toBe(404);
    expect((await api.post('/api/ad/news', {})).status).toBe(404);
    expect(sandbox.callCount('ad/news')).toBe(calls);
    const doc = (await api.get('/api/openapi.json')).json as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).not.toContain('/api/ad/news');
    const table = (await api.get('/api/endpoints.json')).json as { endpoints: { path: string }[] };
    expect(table.endpoints.map((e) => e.path)).not.toContain('ad/news');
  });

  it('routes an added front-end endpoint behind the session, signed with the user token; an upstream that does not know it is a 502', async () => {
    expect((await new ApiClient(amended.url).get('/api/partner/stores?city=Paris')).status).toBe(401);
    const api = await connected(amended, 'catalogue-added-1');
    expect((await api.get('/api/partner/stores')).status).toBe(400);
    const res = await api.get('/api/partner/stores?city=Paris');
    const call = lastCallTo('partner/stores')!;
    expect(call.body).toBe('{"city":"Paris"}');
    expect(call.sub).not.toBe('');
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ code: 'ERR_UPSTREAM_MISREAD' });

    const doc = (await api.get('/api/openapi.json')).json as { paths: Record<string, Record<string, { summary: string }>> };
    expect(Object.keys(doc.paths['/api/partner/stores']!).sort()).toEqual(['get', 'post']);
    expect(doc.paths['/api/partner/stores']!.post!.summary).toBe('Stores near the user.');
    const table = (await api.get('/api/endpoints.json')).json as { endpoints: unknown[] };
    expect(table.endpoints).toContainEqual({ path: 'partner/stores', get: true, idempotent: false, session: true });
    expect((await new ApiClient(builtIn.url).get('/api/partner/stores?city=Paris')).status).toBe(404);
  });

  it('routes an added back-end endpoint on /internal, signed with the back-end token, and documents it there', async () => {
    const post = (svc: TestService, path: string, body: unknown): Promise<Response> =>
      fetch(`${svc.internalUrl}/internal/${path}`, { method: 'POST', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const res = await post(amended, 'user/points', { partnerClientId: 'catalogue-back-1' });
    expect(res.status).toBe(502);
    const call = lastCallTo('user/points')!;
    expect(call.body).toBe('{"partnerClientId":"catalogue-back-1"}');
    expect(call.sub).toMatch(/.+/);
    expect((await post(amended, 'user/points', {})).status).toBe(400);
    expect((await post(builtIn, 'user/points', { partnerClientId: 'x' })).status).toBe(404);
    const doc = (await (await fetch(`${amended.internalUrl}/internal/openapi.json`, { headers: { Authorization: `Bearer ${KEY}` } })).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/internal/user/points');
  });

  it('serves a back-end endpoint the file explicitly exposed on /api, to connected users only, signed with the back-end token', async () => {
    expect((await new ApiClient(amended.url).post('/api/user/info', { partnerClientId: 'catalogue-expose-1' })).status).toBe(401);
    const api = await connected(amended, 'catalogue-expose-1');
    const res = await api.post('/api/user/info', { partnerClientId: 'catalogue-expose-1' });
    expect(res.status).toBe(200);
    expect(res.json.data.user.partnerClientId).toBe('catalogue-expose-1');
    const backEndSub = lastCallTo('user/info')!.sub;
    expect((await api.get('/api/gift/list')).status).toBe(200);
    const userSub = lastCallTo('gift/list')!.sub;
    expect(backEndSub).not.toBe('');
    expect(backEndSub).not.toBe(userSub);
    expect(sandbox.callCount('auth/token')).toBeGreaterThan(0);
    // Moved to the front: no longer on /internal.
    const internal = await fetch(`${amended.internalUrl}/internal/user/info`, { method: 'POST', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' }, body: '{}' });
    expect(internal.status).toBe(404);
  });
});
