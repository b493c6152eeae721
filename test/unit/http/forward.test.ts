import type { RequestHandler } from 'express';
import { pipelineOf, type Listener } from '../../../src/http/forward';
import { endpoint } from '../../../src/upstream/catalogue';
import { ApiClient } from '../../helpers/http';
import { startTestService, type TestService } from '../../helpers/service';

const limit: RequestHandler = (_req, _res, next) => next();
const publicSide: Listener = { prefix: '/api', side: 'front', callers: 'session', foldLanguage: true, mutationLimit: limit };
const internalSide: Listener = { prefix: '/internal', side: 'back', callers: 'api-key', foldLanguage: false };

describe('pipelineOf: the order of a forwarded call', () => {
  it.each([
    ['a user read by GET', publicSide, 'gift/list', 'GET', ['session', 'validate', 'relay']],
    ['a user read by POST', publicSide, 'gift/list', 'POST', ['session', 'body', 'validate', 'relay']],
    ['a user mutation', publicSide, 'generosity/store', 'POST', ['session', 'body', 'validate', 'mutation-limit', 'relay']],
    ['an anonymous read', publicSide, 'partner/getprog', 'GET', ['validate', 'relay']],
    ['a back-end mutation', internalSide, 'buffer/store', 'POST', ['body', 'validate', 'relay']],
    ['a back-end read', internalSide, 'user/info', 'POST', ['body', 'validate', 'relay']],
  ] as const)('%s', (_label, listener, path, method, stages) => {
    expect(pipelineOf(listener, endpoint(path), method)).toEqual(stages);
  });

  it('has no limit step when the limits are off', () => {
    const { mutationLimit: _off, ...unlimited } = publicSide;
    expect(pipelineOf(unlimited, endpoint('generosity/store'), 'POST')).toEqual(['session', 'body', 'validate', 'relay']);
  });
});

/** The pipeline's order seen from outside: what reaches the sandbox upstream, and when. */
describe('the forwarding path over HTTP', () => {
  let svc: TestService;
  const KEY_A = 'forward-key-a-0123456789abcdefghij';
  const KEY_B = 'forward-key-b-0123456789abcdefghij';

  beforeAll(async () => {
    svc = await startTestService({ env: { INTERNAL_API_KEYS: `a:${KEY_A},b:${KEY_B}`, BROWSER_ACTIONS: 'purchase,welcome' } });
  });
  afterAll(async () => svc.close());

  it('refuses an anonymous caller (401) before reading its body, and a connected one with a bad body (400) before the upstream', async () => {
    const before = svc.sandbox.callCount('generosity/store');
    const browser = new ApiClient(svc.url);
    expect((await browser.post('/api/generosity/store', { nosuchfield: 1 })).status).toBe(401);
    await browser.connect('forward-order-1');
    const bad = await browser.post('/api/generosity/store', { nosuchfield: 1 });
    expect([bad.status, bad.json.code]).toEqual([400, 'ERR_BAD_REQUEST']);
    expect(svc.sandbox.callCount('generosity/store')).toBe(before);
  });

  it('checks the browser actions after validation, before the upstream', async () => {
    const browser = new ApiClient(svc.url);
    await browser.connect('forward-order-2');
    const before = svc.sandbox.callCount('generosity/store');
    expect((await browser.post('/api/generosity/store', { action: 'survey' })).status).toBe(403);
    expect(svc.sandbox.callCount('generosity/store')).toBe(before);
  });

  it('replays an Idempotency-Key per user on /api and per caller key on /internal, reaching the upstream once per scope', async () => {
    const browser = new ApiClient(svc.url);
    await browser.connect('forward-order-3');
    const stores = svc.sandbox.callCount('generosity/store');
    const first = await browser.post('/api/generosity/store', { action: 'purchase', param1: 'order-f3' }, { headers: { 'Idempotency-Key': 'fwd-1' } });
    const again = await browser.post('/api/generosity/store', { action: 'purchase', param1: 'order-f3' }, { headers: { 'Idempotency-Key': 'fwd-1' } });
    expect([first.status, again.status, again.text]).toEqual([200, 200, first.text]);
    expect(svc.sandbox.callCount('generosity/store')).toBe(stores + 1);

    const buffered = svc.sandbox.callCount('buffer/store');
    const post = (key: string) =>
      fetch(`${svc.internalUrl}/internal/buffer/store`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', 'Idempotency-Key': 'fwd-2' },
        body: JSON.stringify({ partnerClientId: 'forward-order-3', action: 'welcome', param1: 'batch-f3' }),
      });
    const byA = await post(KEY_A);
    const byAAgain = await post(KEY_A);
    expect([byA.status, byAAgain.status, byAAgain.headers.get('idempotent-replayed')]).toEqual([200, 200, 'true']);
    expect(svc.sandbox.callCount('buffer/store')).toBe(buffered + 1);
    // Another partner service's key is another scope: its call is its own (the upstream refuses the duplicate earn).
    await post(KEY_B);
    expect(svc.sandbox.callCount('buffer/store')).toBe(buffered + 2);
  });

  it('serves a cached read from the cache: one upstream call for many reads', async () => {
    const browser = new ApiClient(svc.url);
    const before = svc.sandbox.callCount('partner/getprog');
    for (let i = 0; i < 3; i += 1) expect((await browser.get('/api/partner/getprog?lang=en')).status).toBe(200);
    expect(svc.sandbox.callCount('partner/getprog')).toBe(before + 1);
  });

  it('ends the user\'s sessions after a logout, on the same path', async () => {
    const browser = new ApiClient(svc.url);
    await browser.connect('forward-order-4');
    expect((await browser.post('/api/user/logout', {})).status).toBe(200);
    expect((await browser.get('/api/gift/list')).status).toBe(401);
  });
});
