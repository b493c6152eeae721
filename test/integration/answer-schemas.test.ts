/**
 * Real answers against the documented schemas: a service over real HTTP with
 * the sandbox as its upstream and a real Redis, every endpoint of the
 * catalogue called to success, each 200 validated (JSON Schema 2020-12, Ajv)
 * against the schema of the document the service itself serves. Objects are
 * closed for the check, so a field the sandbox sends and the schema does not
 * name fails as surely as a missing one. The upstream's own shapes (with the
 * userToken, and auth/token that no route exposes) are checked on the sandbox
 * directly, against the catalogue's `data`.
 */
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { answerComponents } from '../../src/upstream/answers';
import { catalogue, endpoint } from '../../src/upstream/catalogue';
import type { JsonSchema } from '../../src/upstream/fields';
import { ApiClient, type ApiResponse } from '../helpers/http';
import { makeCaller, type Caller } from '../helpers/raw-sign';
import { startTestService, TEST_PARTNER, type TestService } from '../helpers/service';

const INTERNAL_KEY = 'answer-schemas-key-0123456789abcdef';

/** Every object schema that names its properties becomes closed (unless it says otherwise). */
function closed(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closed);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = key === 'properties' ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, closed(v)])) : closed(value);
  if ('properties' in out && !('additionalProperties' in out)) out.additionalProperties = false;
  return out;
}

function newAjv(): Ajv2020 {
  // strict off: an OpenAPI document holds keywords that are not JSON Schema (paths, responses...).
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv;
}

describe('every answer of the service against the schema of its OpenAPI document', () => {
  let svc: TestService;
  let ajv: Ajv2020;
  /** Which documented answers have been checked, by `METHOD path`. */
  const checked = new Set<string>();
  const validators = new Map<string, ValidateFunction>();

  beforeAll(async () => {
    svc = await startTestService({ env: { INTERNAL_API_KEYS: INTERNAL_KEY } });
    ajv = newAjv();
    const front = await (await fetch(`${svc.url}/api/openapi.json`)).json();
    const back = await (await fetch(`${svc.internalUrl}/internal/openapi.json`, { headers: { Authorization: `Bearer ${INTERNAL_KEY}` } })).json();
    ajv.addSchema(closed(front) as object, 'front');
    ajv.addSchema(closed(back) as object, 'back');
  }, 60_000);

  afterAll(async () => {
    await svc?.close();
  });

  /** The documented 200 schema of an operation of the served document. */
  function validatorOf(doc: 'front' | 'back', method: string, path: string): ValidateFunction {
    const id = `${doc} ${method} ${path}`;
    let validate = validators.get(id);
    if (!validate) {
      const pointer = `/paths/${path.replace(/~/g, '~0').replace(/\//g, '~1')}/${method}/responses/200/content/application~1json/schema`;
      validate = ajv.compile({ $ref: `${doc}#${pointer}` });
      validators.set(id, validate);
    }
    return validate;
  }

  function expectDocumented(doc: 'front' | 'back', method: string, path: string, res: ApiResponse | { status: number; json: unknown }): void {
    expect(`${method} ${path} ${res.status}`).toBe(`${method} ${path} 200`);
    const validate = validatorOf(doc, method.toLowerCase(), path);
    const valid = validate(res.json);
    expect([`${method} ${path}`, valid ? [] : validate.errors]).toEqual([`${method} ${path}`, []]);
    checked.add(`${method} ${path}`);
  }

  async function internal(path: string, body: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${svc.internalUrl}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${INTERNAL_KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
  }

  it('front: a whole journey, from the program to the deletion, each answer as documented', async () => {
    const visitor = new ApiClient(svc.url);
    expectDocumented('front', 'GET', '/api/session', await visitor.get('/api/session'));
    expectDocumented('front', 'POST', '/api/partner/getprog', await visitor.post('/api/partner/getprog', { lang: 'fr' }));
    expectDocumented('front', 'GET', '/api/partner/getprog', await visitor.get('/api/partner/getprog?lang=en'));

    const browser = new ApiClient(svc.url);
    expectDocumented('front', 'POST', '/api/user/clientcheckcredentials', await browser.post('/api/user/clientcheckcredentials', { partnerClientId: 'schema-web', email: 'web@example.com', firstName: 'Ada', dataConsentCode: 1 }));
    expectDocumented('front', 'GET', '/api/session', await browser.get('/api/session'));
    for (const method of ['POST', 'GET'] as const) {
      for (const path of ['partner/initialcheckstore', 'gift/list', 'ad/bonus', 'ad/specials', 'ad/news']) {
        const res = method === 'POST' ? await browser.post(`/api/${path}`, { lang: 'en' }) : await browser.get(`/api/${path}?lang=fr`);
        expectDocumented('front', method, `/api/${path}`, res);
      }
    }
    expectDocumented('front', 'POST', '/api/generosity/store', await browser.post('/api/generosity/store', { action: 'purchase', param1: 'order-1' }));
    expectDocumented('front', 'POST', '/api/generosity/store', await browser.post('/api/generosity/store', { action: 'welcome' }));
    expectDocumented('front', 'POST', '/api/gift/checkavailability', await browser.post('/api/gift/checkavailability', { giftId: 'coffee' }));
    for (const path of ['user/historyearns', 'user/historyburns']) {
      const posted = await browser.post(`/api/${path}`, { page: 1, limit: 10 });
      expectDocumented('front', 'POST', `/api/${path}`, posted);
      expect(posted.json.data.total).toBeGreaterThan(0);
      expectDocumented('front', 'GET', `/api/${path}`, await browser.get(`/api/${path}?page=1&limit=5`));
    }
    expectDocumented('front', 'POST', '/api/user/logout', await browser.post('/api/user/logout', {}));

    const app = new ApiClient(svc.url);
    const connected = await app.post('/api/user/clientcheckcredentials', { partnerClientId: 'schema-app' }, { headers: { 'X-Session-Transport': 'token' } });
    expectDocumented('front', 'POST', '/api/user/clientcheckcredentials', connected);
    expect(typeof connected.json.session.token).toBe('string');
    app.bearer = connected.json.session.token;
    expectDocumented('front', 'POST', '/api/user/delete', await app.post('/api/user/delete', {}));
  });

  it('back: every internal endpoint, each answer as documented', async () => {
    const call = async (path: string, body: unknown) => expectDocumented('back', 'POST', `/internal/${path}`, await internal(`/internal/${path}`, body));
    await call('buffer/store', { partnerClientId: 'schema-back-1', action: 'purchase', param1: 'b-1', date: '2026-01-02T03:04:05Z' });
    await call('generosity/multistore', { action: 'review', partnerClientIds: ['schema-back-1', 'schema-back-2'] });
    // A second welcome is over its limit: that result carries errorCode 7 and no points.
    await call('generosity/multistore', { action: 'welcome', partnerClientIds: ['schema-back-1'] });
    await call('generosity/multistore', { action: 'welcome', partnerClientIds: ['schema-back-1', 'schema-back-2'] });
    await call('user/incrementalinfos', { since: 0, page: 1, limit: 50 });
    await call('user/infos', { partnerClientIds: ['schema-back-1', 'schema-back-2'] });
    await call('user/infos', {});
    await call('user/info', { partnerClientId: 'schema-back-1' });
    await call('user/ranking', { partnerClientId: 'schema-back-1', n: 3 });
    await call('user/multidelete', { partnerClientIds: ['schema-back-2', 'schema-never-was'] });
    expectDocumented('back', 'POST', '/internal/sessions/revoke', await internal('/internal/sessions/revoke', { partnerClientId: 'schema-back-1' }));
    expectDocumented('back', 'POST', '/internal/cache/purge', await internal('/internal/cache/purge', {}));
  });

  it('an earn settled by a same-key retry (`alreadyApplied`), front and back, as documented', async () => {
    const browser = new ApiClient(svc.url);
    expect((await browser.connect('schema-settled')).status).toBe(200);
    // The upstream stores the earn, then the answer is lost: the service cannot know, 504.
    svc.sandbox.injectFault({ path: 'generosity/store', kind: 'drop-after-commit', times: 1 });
    const front = { action: 'purchase', param1: 'order-settled-front' };
    const headers = { 'Idempotency-Key': 'schema-settled-front' };
    expect((await browser.post('/api/generosity/store', front, { headers })).status).toBe(504);
    const settled = await browser.post('/api/generosity/store', front, { headers });
    expect(settled.json).toEqual({ errorCode: 0, errorMsg: 'ok', data: { alreadyApplied: true, ...front } });
    expectDocumented('front', 'POST', '/api/generosity/store', settled);

    svc.sandbox.injectFault({ path: 'buffer/store', kind: 'drop-after-commit', times: 1 });
    const back = { partnerClientId: 'schema-settled', action: 'purchase', param1: 'order-settled-back' };
    const send = async () => {
      const res = await fetch(`${svc.internalUrl}/internal/buffer/store`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${INTERNAL_KEY}`, 'Content-Type': 'application/json', 'Idempotency-Key': 'schema-settled-back' },
        body: JSON.stringify(back),
      });
      return { status: res.status, json: await res.json() };
    };
    expect((await send()).status).toBe(504);
    const settledBack = await send();
    expect(settledBack.json).toEqual({ errorCode: 0, errorMsg: 'ok', data: { alreadyApplied: true, action: 'purchase', param1: 'order-settled-back' } });
    expectDocumented('back', 'POST', '/internal/buffer/store', settledBack);
  });

  it('leaves no documented operation unchecked', () => {
    const expected = catalogue
      .filter((e) => e.exposed)
      .flatMap((e) => (e.side === 'front' ? [`POST /api/${e.path}`, ...(e.allowGet ? [`GET /api/${e.path}`] : [])] : [`POST /internal/${e.path}`]));
    expect([...checked].filter((c) => !/openapi\.json$/.test(c)).sort()).toEqual([...expected, 'GET /api/session', 'POST /internal/sessions/revoke', 'POST /internal/cache/purge'].sort());
  });

  it('fails an answer that strays from its schema (the check is real)', async () => {
    const res = await new ApiClient(svc.url).post('/api/partner/getprog', {});
    const validate = validatorOf('front', 'post', '/api/partner/getprog');
    expect(validate(res.json)).toBe(true);
    const extra = structuredClone(res.json);
    extra.data.gifts[0].colour = 'blue';
    expect(validate(extra)).toBe(false);
    const missing = structuredClone(res.json);
    delete missing.data.actions[0].points;
    expect(validate(missing)).toBe(false);
    const wrongType = structuredClone(res.json);
    wrongType.data.gifts[0].stock = '12';
    expect(validate(wrongType)).toBe(false);
  });
});

describe("the upstream's own answers (the sandbox, signed directly) against the catalogue's data schemas", () => {
  let svc: TestService;
  let call: Caller;
  let ajv: Ajv2020;

  beforeAll(async () => {
    svc = await startTestService({ redis: false });
    call = makeCaller(svc.sandbox.url, { partnerId: TEST_PARTNER.id, secret: TEST_PARTNER.secret });
    ajv = newAjv();
    ajv.addSchema(closed({ components: { schemas: answerComponents } }) as object, 'answers');
  });

  afterAll(async () => {
    await svc?.close();
  });

  /** A catalogue `data` schema whose component references point into the shared answers. */
  function dataValidator(schema: JsonSchema): ValidateFunction {
    const text = JSON.stringify(closed(schema)).replace(/"#\/components\/schemas\//g, '"answers#/components/schemas/');
    return ajv.compile(JSON.parse(text) as object);
  }

  it('auth/token and the connect (with its userToken) are what the catalogue says', async () => {
    for (const [path, body] of [
      ['auth/token', {}],
      ['user/clientcheckcredentials', { partnerClientId: 'schema-raw', lastName: 'Lovelace' }],
    ] as const) {
      const res = await call(path, { bodyObj: body });
      expect([path, res.json?.errorCode]).toEqual([path, 0]);
      const validate = dataValidator(endpoint(path).data);
      expect([path, validate(res.json?.data) ? [] : validate.errors]).toEqual([path, []]);
    }
    const connect = await call('user/clientcheckcredentials', { bodyObj: { partnerClientId: 'schema-raw' } });
    expect(dataValidator(endpoint('user/clientcheckcredentials').servedData)(connect.json?.data)).toBe(false);
  });
});
