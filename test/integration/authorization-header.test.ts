/**
 * Only a bearer credential that will itself authenticate the request (the mobile session token,
 * or the ID token at the connect of IDENTITY_MODE=jwt) lifts the browser checks. Any other
 * `Authorization` (Basic, Digest, NTLM or Negotiate that a browser adds by itself for the site, a
 * junk bearer, an empty header) leaves the cookie serving the request, and every check applies.
 */
import { SignJWT } from 'jose';
import { ApiClient } from '../helpers/http';
import { startTestService, type TestService } from '../helpers/service';

const BROWSER_ADDED = [
  ['Basic', 'Basic eDp4'],
  ['Digest', 'Digest username="x", realm="r", nonce="n", uri="/", response="0"'],
  ['NTLM', 'NTLM TlRMTVNTUAABAAAAB4IIAAAAAAAAAAAAAAAAAAAAAAA='],
  ['Negotiate', 'Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnagMDAuBgkqhkiC9xIBAgIGCSqGSIb3EgECAgYKKwYBBAGCNwICHgYKKwYBBAGCNwICCg=='],
  ['a junk bearer', 'Bearer junk'],
  ['an ID token outside the connect', 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'],
  ['an empty header', ''],
] as const;

async function balanceOf(api: ApiClient): Promise<number> {
  const res = await api.get('/api/partner/initialcheckstore');
  expect(res.status).toBe(200);
  return res.json.data.user.points as number;
}

describe('an Authorization header that no loader serves changes nothing for a cookie session', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it.each(BROWSER_ADDED)('with %s: a foreign-origin store is 403 and moves no point', async (_label, authorization) => {
    const victim = new ApiClient(svc.url);
    expect((await victim.connect(`auth-store-${_label}`)).status).toBe(200);
    const before = await balanceOf(victim);
    const stores = svc.sandbox.calls.filter((c) => c.path === 'generosity/store').length;
    const res = await victim.post('/api/generosity/store', { action: 'review' }, { csrf: false, headers: { Origin: 'http://evil.test', Authorization: authorization } });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(svc.sandbox.calls.filter((c) => c.path === 'generosity/store').length).toBe(stores);
    expect(await balanceOf(victim)).toBe(before);
  });

  it.each(BROWSER_ADDED)('with %s: a form-like user/delete (no X-CSRF, no Origin) is 403 and the account stays', async (_label, authorization) => {
    const victim = new ApiClient(svc.url);
    expect((await victim.connect(`auth-delete-${_label}`)).status).toBe(200);
    const res = await victim.request('POST', '/api/user/delete', { csrf: false, headers: { Authorization: authorization } });
    expect(res.status).toBe(403);
    expect(svc.sandbox.calls.some((c) => c.path === 'user/delete')).toBe(false);
    expect((await victim.get('/api/session')).json.connected).toBe(true);
    expect((await victim.get('/api/partner/initialcheckstore')).status).toBe(200);
  });

  it('still serves the mobile session token without X-CSRF and whatever the Origin, never the cookie beside it', async () => {
    const mobile = new ApiClient(svc.url);
    const connected = await mobile.connect('auth-mobile', {}, { headers: { 'X-Session-Transport': 'token' } });
    expect(connected.status).toBe(200);
    mobile.bearer = connected.json.session.token as string;
    const stored = await mobile.post('/api/generosity/store', { action: 'review' }, { csrf: false, headers: { Origin: 'http://evil.test' } });
    expect(stored.status).toBe(200);

    // A forged session token beside the victim's cookie: the token is what the loader reads, so
    // the cookie's session is never used and nothing moves.
    const victim = new ApiClient(svc.url);
    expect((await victim.connect('auth-forged-token')).status).toBe(200);
    const before = await balanceOf(victim);
    const forged = await victim.post('/api/generosity/store', { action: 'review' }, { csrf: false, headers: { Origin: 'http://evil.test', Authorization: 'Bearer mbs.forged.c2ln' } });
    expect(forged.status).toBe(401);
    expect(await balanceOf(victim)).toBe(before);
  });
});

describe('IDENTITY_MODE=jwt: the ID token lifts the checks at the connect only', () => {
  const secret = 'partner-id-token-secret-0123456789abcdef';
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { IDENTITY_MODE: 'jwt', IDENTITY_JWT_SECRET: secret, IDENTITY_JWT_ISSUER: 'https://id.example', IDENTITY_JWT_AUDIENCE: 'miles-bff' } });
  });
  afterAll(async () => {
    await svc.close();
  });

  const idToken = (sub: string): Promise<string> =>
    new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setIssuer('https://id.example').setAudience('miles-bff').setExpirationTime('5m').sign(new TextEncoder().encode(secret));

  it('connects with the ID token and no X-CSRF, then holds the cookie to every check', async () => {
    const api = new ApiClient(svc.url);
    const token = await idToken('jwt-guard-1');
    expect((await api.connect('ignored', {}, { csrf: false, headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    // The same ID token on another route authenticates nothing: the cookie serves, so X-CSRF is needed.
    const res = await api.post('/api/generosity/store', { action: 'review' }, { csrf: false, headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
  });

  it('holds a connect with a Basic header to the X-CSRF rule', async () => {
    const res = await new ApiClient(svc.url).connect('ignored', {}, { csrf: false, headers: { Authorization: 'Basic eDp4' } });
    expect(res.status).toBe(403);
  });
});

describe('IDENTITY_MODE=insecure-body: no ID token at the connect', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('holds a connect with a bearer that is no session token to the X-CSRF and Origin rules', async () => {
    const before = svc.sandbox.callCount();
    const res = await new ApiClient(svc.url).connect('x', {}, { csrf: false, headers: { Authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln', Origin: 'http://evil.test' } });
    expect(res.status).toBe(403);
    expect(svc.sandbox.callCount()).toBe(before);
  });
});
