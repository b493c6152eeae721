import { randomBytes } from 'node:crypto';
import { startSandbox, type Sandbox } from '../../../src/sandbox';
import { backendToken, connectUser, makeCaller, rawSign, type Caller, type CallResult } from '../../helpers/raw-sign';

const partnerId = 'partner-sig';
const secret = randomBytes(32).toString('hex');
const START = Date.UTC(2024, 5, 1, 12, 0, 0);
let clock = START;
const nowSeconds = (): number => Math.floor(clock / 1000);

let sandbox: Sandbox;
let call: Caller;

beforeAll(async () => {
  sandbox = await startSandbox({
    partners: [
      { id: partnerId, secret },
      { id: partnerId, secret: 'rotated-secret-of-the-same-partner' },
      { id: 'other-partner', secret: 'other-secret' },
    ],
    now: () => clock,
  });
  call = makeCaller(sandbox.url, { partnerId, secret, clock: () => clock });
});

afterAll(async () => {
  await sandbox.close();
});

beforeEach(() => {
  clock = START;
});

function expectRefusal(res: CallResult, errorCode: number, status: number): void {
  expect({ status: res.status, errorCode: res.json?.errorCode }).toEqual({ status, errorCode });
  expect(res.contentType).toBe('application/json');
  expect(typeof res.json?.errorMsg).toBe('string');
  expect(res.json).not.toHaveProperty('data');
}

describe('sandbox: a well-signed request', () => {
  it('is answered with the envelope', async () => {
    const res = await call('partner/getprog');
    expect(res.status).toBe(200);
    expect(res.contentType).toBe('application/json');
    expect(res.json).toMatchObject({ errorCode: 0, errorMsg: 'ok', data: { program: { name: 'Demo Rewards' } } });
  });

  it('accepts every secret listed for the partner (rotation)', async () => {
    const res = await call('partner/getprog', { secret: 'rotated-secret-of-the-same-partner' });
    expect(res.json?.errorCode).toBe(0);
  });

  it('compares signed header names case-insensitively and tolerates unsigned transport headers', async () => {
    const res = await call('partner/getprog', {
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-request-id': 'abc' },
      unsignedHeaders: { 'User-Agent': 'test-agent' },
    });
    expect(res.json?.errorCode).toBe(0);
  });

  it('accepts a body of [] as the empty object, as PHP writes it', async () => {
    const res = await call('partner/getprog', { bodyText: '[]' });
    expect(res.json?.errorCode).toBe(0);
  });

  it('accepts iat at the edges of the window', async () => {
    expect((await call('partner/getprog', { iat: nowSeconds() - 300 })).json?.errorCode).toBe(0);
    expect((await call('partner/getprog', { iat: nowSeconds() + 300 })).json?.errorCode).toBe(0);
  });
});

describe('sandbox: routing', () => {
  it('answers 404 with errorCode 2 for an unknown path', async () => {
    expectRefusal(await call('partner/nothing'), 2, 404);
  });

  it('answers 404 outside the base path', async () => {
    const res = await fetch(new URL('/partner/getprog', sandbox.url), { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { errorCode: number }).errorCode).toBe(2);
  });

  it('answers 404 to another method than POST', async () => {
    expectRefusal(await call('partner/getprog', { method: 'GET' }), 2, 404);
    expectRefusal(await call('partner/getprog', { method: 'PUT' }), 2, 404);
  });
});

describe('sandbox: the JWT', () => {
  it('refuses a missing JWT (9, 401)', async () => {
    expectRefusal(await call('partner/getprog', { jwtOverride: null }), 9, 401);
  });

  it('refuses a malformed JWT (9, 401)', async () => {
    expectRefusal(await call('partner/getprog', { jwtOverride: 'not-a-jwt' }), 9, 401);
    expectRefusal(await call('partner/getprog', { jwtOverride: 'a.b.c' }), 9, 401);
  });

  it('refuses an Authorization header without the Bearer scheme', async () => {
    const jwt = rawSign({ partnerId, secret, sub: '', body: '{}', headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Request-Id': 'x' }, iat: nowSeconds() });
    const res = await call('partner/getprog', { jwtOverride: null, unsignedHeaders: { Authorization: jwt } });
    expectRefusal(res, 9, 401);
  });

  it('refuses the wrong secret (9, 401)', async () => {
    expectRefusal(await call('partner/getprog', { secret: 'wrong-secret' }), 9, 401);
  });

  it('refuses an unknown iss (1, 401)', async () => {
    expectRefusal(await call('partner/getprog', { partnerId: 'nobody' }), 1, 401);
  });

  it('refuses alg none, with or without a signature (9, 401)', async () => {
    expectRefusal(await call('partner/getprog', { protectedHeader: { alg: 'none', typ: 'JWT' } }), 9, 401);
    const signed = rawSign({
      partnerId,
      secret,
      sub: '',
      body: '{}',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Request-Id': 'x' },
      iat: nowSeconds(),
      protectedHeader: { alg: 'none', typ: 'JWT' },
    });
    const unsigned = `${signed.split('.').slice(0, 2).join('.')}.`;
    expectRefusal(await call('partner/getprog', { jwtOverride: unsigned, headers: { 'X-Request-Id': 'x' } }), 9, 401);
  });

  it('refuses another alg even when the HMAC-SHA256 is right (9, 401)', async () => {
    expectRefusal(await call('partner/getprog', { protectedHeader: { alg: 'HS512', typ: 'JWT' } }), 9, 401);
    expectRefusal(await call('partner/getprog', { protectedHeader: { alg: 'RS256', typ: 'JWT' } }), 9, 401);
  });

  it('refuses a typ other than JWT (9, 401)', async () => {
    expectRefusal(await call('partner/getprog', { protectedHeader: { alg: 'HS256' } }), 9, 401);
    expectRefusal(await call('partner/getprog', { protectedHeader: { alg: 'HS256', typ: 'JWS' } }), 9, 401);
  });

  it('refuses a tampered payload (9, 401)', async () => {
    const good = rawSign({ partnerId, secret, sub: '', body: '{}', headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Request-Id': 'x' }, iat: nowSeconds() });
    const [h, , s] = good.split('.');
    const forged = Buffer.from(JSON.stringify({ iss: partnerId, sub: 'x', iat: nowSeconds(), data_header: '{}', data_body: '{}' })).toString('base64url');
    expectRefusal(await call('partner/getprog', { jwtOverride: `${h}.${forged}.${s}`, headers: { 'X-Request-Id': 'x' } }), 9, 401);
  });

  it('refuses a non-integer iat (8, 401)', async () => {
    expectRefusal(await call('partner/getprog', { iat: String(nowSeconds()) }), 8, 401);
    expectRefusal(await call('partner/getprog', { iat: nowSeconds() + 0.5 }), 8, 401);
    expectRefusal(await call('partner/getprog', { claims: { iat: undefined } }), 8, 401);
  });

  it('refuses a stale iat on both sides of the window (8, 401)', async () => {
    expectRefusal(await call('partner/getprog', { iat: nowSeconds() - 301 }), 8, 401);
    expectRefusal(await call('partner/getprog', { iat: nowSeconds() + 301 }), 8, 401);
  });

  it('checks the HMAC before iat: a stale JWT with a wrong secret is 9', async () => {
    expectRefusal(await call('partner/getprog', { iat: nowSeconds() - 10_000, secret: 'wrong' }), 9, 401);
  });
});

describe('sandbox: data_body and data_header', () => {
  it('refuses a body that differs by one byte from data_body (9, 401)', async () => {
    expectRefusal(await call('partner/getprog', { bodyText: '{"lang":"fr"}', signedBody: '{"lang":"en"}' }), 9, 401);
    expectRefusal(await call('partner/getprog', { bodyText: '{"lang":"en"} ', signedBody: '{"lang":"en"}' }), 9, 401);
  });

  it('refuses a JSON.stringify body signed as its PHP encoding (raw bytes differ)', async () => {
    const body = { action: 'purchase', param1: 'shop/été' };
    const phpText = '{"action":"purchase","param1":"shop\\/\\u00e9t\\u00e9"}';
    expectRefusal(await call('partner/getprog', { bodyText: JSON.stringify(body), signedBody: phpText }), 9, 401);
  });

  it('refuses a signed header sent with another value (9, 401)', async () => {
    const res = await call('partner/getprog', { headers: { 'X-Trace': 'signed-value' }, unsignedHeaders: { 'X-Trace': 'other-value' } });
    expectRefusal(res, 9, 401);
  });

  it('refuses a signed Accept that the request does not carry as signed (9, 401)', async () => {
    const res = await call('partner/getprog', { unsignedHeaders: { Accept: '*/*' } });
    expectRefusal(res, 9, 401);
  });

  it('refuses a signed header missing from the request (9, 401)', async () => {
    expectRefusal(await call('partner/getprog', { headers: { 'X-Trace': 'v' }, omitFromRequest: ['X-Trace'] }), 9, 401);
    expectRefusal(await call('partner/getprog', { omitFromRequest: ['X-Request-Id'] }), 9, 401);
  });

  it('refuses a data_header without Content-Type, Accept or X-Request-Id (9, 401)', async () => {
    for (const left of ['Content-Type', 'Accept', 'X-Request-Id']) {
      const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Request-Id': 'r1' };
      delete headers[left];
      const res = await call('partner/getprog', { headers: { 'X-Request-Id': 'r1' }, dataHeaderText: JSON.stringify(headers) });
      expectRefusal(res, 9, 401);
    }
  });

  it('refuses a data_header that is not JSON (9, 401)', async () => {
    expectRefusal(await call('partner/getprog', { dataHeaderText: 'Content-Type: application/json' }), 9, 401);
  });
});

describe('sandbox: sub', () => {
  it('refuses a non-empty sub where none applies (9, 401)', async () => {
    expectRefusal(await call('partner/getprog', { sub: 'something' }), 9, 401);
    expectRefusal(await call('user/clientcheckcredentials', { sub: 'x', bodyObj: { partnerClientId: 'u-sub' } }), 9, 401);
    expectRefusal(await call('auth/token', { sub: 'x' }), 9, 401);
  });

  it('refuses an empty or unknown userToken on a front-end endpoint (3, 401)', async () => {
    expectRefusal(await call('gift/list'), 3, 401);
    expectRefusal(await call('gift/list', { sub: randomBytes(32).toString('hex') }), 3, 401);
  });

  it('refuses a logged-out userToken (3, 401)', async () => {
    const token = await connectUser(call, 'u-logout-sig');
    expect((await call('user/logout', { sub: token })).json?.errorCode).toBe(0);
    expectRefusal(await call('gift/list', { sub: token }), 3, 401);
  });

  it('refuses a userToken killed from the controls (3, 401)', async () => {
    const token = await connectUser(call, 'u-killed');
    sandbox.killUserTokens('u-killed');
    expectRefusal(await call('partner/initialcheckstore', { sub: token }), 3, 401);
  });

  it('refuses a back-end token on a front-end endpoint (3, 401)', async () => {
    const token = await backendToken(call);
    expectRefusal(await call('gift/list', { sub: token }), 3, 401);
  });

  it('refuses a userToken on a back-end endpoint (10, 401)', async () => {
    const token = await connectUser(call, 'u-on-back');
    expectRefusal(await call('user/info', { sub: token, bodyObj: { partnerClientId: 'u-on-back' } }), 10, 401);
  });

  it('refuses an expired back-end token (10, 401)', async () => {
    const token = await backendToken(call);
    expect((await call('user/infos', { sub: token })).json?.errorCode).toBe(0);
    sandbox.expireBackendTokens();
    expectRefusal(await call('user/infos', { sub: token }), 10, 401);
  });

  it("refuses a partner's token signed by another partner", async () => {
    const token = await connectUser(call, 'u-cross');
    expectRefusal(await call('gift/list', { sub: token, partnerId: 'other-partner', secret: 'other-secret' }), 3, 401);
    const back = await backendToken(call);
    expectRefusal(await call('user/infos', { sub: back, partnerId: 'other-partner', secret: 'other-secret' }), 10, 401);
  });
});

describe('sandbox: the body and its parameters', () => {
  it('refuses a body that is not a JSON object (2, 400)', async () => {
    for (const bodyText of ['[1]', '"text"', '42', 'null', 'not json', '']) {
      expectRefusal(await call('partner/getprog', { bodyText }), 2, 400);
    }
  });

  it('refuses a Content-Type other than application/json (2, 400)', async () => {
    expectRefusal(await call('partner/getprog', { headers: { 'Content-Type': 'text/plain' } }), 2, 400);
  });

  it('refuses an unknown field (2, 200)', async () => {
    expectRefusal(await call('partner/getprog', { bodyObj: { lang: 'en', extra: 1 } }), 2, 200);
    expectRefusal(await call('user/logout', { bodyObj: { force: true }, sub: await connectUser(call, 'u-unknown-field') }), 2, 200);
    expectRefusal(await call('partner/getprog', { bodyText: '{"__proto__":{"x":1}}' }), 2, 200);
  });

  it('refuses wrong types and out-of-range values (2, 200)', async () => {
    const sub = await connectUser(call, 'u-types');
    expectRefusal(await call('user/historyearns', { sub, bodyObj: { page: '1' } }), 2, 200);
    expectRefusal(await call('user/historyearns', { sub, bodyObj: { page: 0 } }), 2, 200);
    expectRefusal(await call('user/historyearns', { sub, bodyObj: { limit: 101 } }), 2, 200);
    expectRefusal(await call('user/historyearns', { sub, bodyObj: { limit: 2.5 } }), 2, 200);
    expectRefusal(await call('generosity/store', { sub, bodyObj: { action: 5 } }), 2, 200);
    expectRefusal(await call('generosity/store', { sub, bodyObj: { action: 'review', param1: null } }), 2, 200);
    expectRefusal(await call('partner/getprog', { bodyObj: { lang: 12 } }), 2, 200);
    expectRefusal(await call('user/clientcheckcredentials', { bodyObj: { partnerClientId: 'u', dataConsentCode: 2 } }), 2, 200);
  });

  it('refuses a missing required parameter (2, 200)', async () => {
    expectRefusal(await call('user/clientcheckcredentials', { bodyObj: {} }), 2, 200);
    const sub = await connectUser(call, 'u-missing');
    expectRefusal(await call('gift/checkavailability', { sub, bodyObj: {} }), 2, 200);
    const back = await backendToken(call);
    expectRefusal(await call('user/ranking', { sub: back, bodyObj: { partnerClientId: 'u-missing' } }), 2, 200);
    expectRefusal(await call('user/ranking', { sub: back, bodyObj: { partnerClientId: 'u-missing', n: 51 } }), 2, 200);
    expectRefusal(await call('user/multidelete', { sub: back, bodyObj: { partnerClientIds: [] } }), 2, 200);
    expectRefusal(await call('user/incrementalinfos', { sub: back, bodyObj: {} }), 2, 200);
  });

  it('checks the signature before the parameters', async () => {
    expectRefusal(await call('partner/getprog', { bodyObj: { extra: 1 }, secret: 'wrong' }), 9, 401);
  });
});
