import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, exportSPKI } from 'jose';
import { ApiClient } from '../helpers/http';
import { startTestService, type TestService } from '../helpers/service';

const ISSUER = 'https://id.partner.example';
const AUDIENCE = 'miles-bff';
const HS_SECRET = 'partner-id-token-secret-0123456789abcdef';

async function hsToken(claims: Record<string, unknown>, opts: { secret?: string; exp?: string | number; iss?: string; aud?: string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setExpirationTime(opts.exp ?? '5m')
    .sign(new TextEncoder().encode(opts.secret ?? HS_SECRET));
}

describe('IDENTITY_MODE=jwt with an HS256 secret', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({
      env: { IDENTITY_MODE: 'jwt', IDENTITY_JWT_SECRET: HS_SECRET, IDENTITY_JWT_ISSUER: ISSUER, IDENTITY_JWT_AUDIENCE: AUDIENCE },
    });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('connects the user named by the ID token, ignoring what the body claims', async () => {
    const api = new ApiClient(svc.url);
    const token = await hsToken({ sub: 'jwt-user-1', email: 'jwt1@example.com', given_name: 'Anaïs', family_name: 'Lé' });
    const res = await api.connect('someone-else', { email: 'forged@example.com', lang: 'fr', dataConsentCode: 1 }, { headers: { Authorization: `Bearer ${token}` }, csrf: false });
    expect(res.status).toBe(200);
    expect(res.json.data.user.partnerClientId).toBe('jwt-user-1');
    const sent = JSON.parse(svc.sandbox.calls.filter((c) => c.path === 'user/clientcheckcredentials').pop()!.body);
    expect(sent).toEqual({ partnerClientId: 'jwt-user-1', email: 'jwt1@example.com', firstName: 'Anaïs', lastName: 'Lé', dataConsentCode: 1, lang: 'fr' });
    expect((await api.get('/api/session')).json.user.partnerClientId).toBe('jwt-user-1');
  });

  it.each([
    ['no token', async () => undefined],
    ['a forged signature', async () => hsToken({ sub: 'x' }, { secret: 'another-secret-0123456789abcdef0123456789' })],
    ['an expired token', async () => hsToken({ sub: 'x' }, { exp: Math.floor(Date.now() / 1000) - 3600 })],
    ['a foreign issuer', async () => hsToken({ sub: 'x' }, { iss: 'https://evil.example' })],
    ['a foreign audience', async () => hsToken({ sub: 'x' }, { aud: 'another-app' })],
    ['alg none', async () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', iss: ISSUER, aud: AUDIENCE, exp: 9999999999 })).toString('base64url')}.`],
    ['a token without sub', async () => hsToken({})],
  ])('refuses %s with 401 and calls nothing upstream', async (_label, make) => {
    const token = await make();
    const before = svc.sandbox.callCount();
    const api = new ApiClient(svc.url);
    const res = await api.connect('x', {}, token ? { headers: { Authorization: `Bearer ${token}` }, csrf: false } : {});
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(res.setCookies).toHaveLength(0);
    expect(svc.sandbox.callCount()).toBe(before);
  });
});

describe('IDENTITY_MODE=jwt: lifetimes, identity and size of the ID token', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({
      env: { IDENTITY_MODE: 'jwt', IDENTITY_JWT_SECRET: HS_SECRET, IDENTITY_JWT_ISSUER: ISSUER, IDENTITY_JWT_AUDIENCE: AUDIENCE, IDENTITY_JWT_CLOCK_TOLERANCE_SECONDS: '30' },
    });
  });
  afterAll(async () => {
    await svc.close();
  });

  const now = (): number => Math.floor(Date.now() / 1000);
  const signed = (claims: Record<string, unknown>): Promise<string> =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').sign(new TextEncoder().encode(HS_SECRET));

  async function connectWith(token: string): Promise<{ status: number; upstreamCalls: number; cookies: number }> {
    const before = svc.sandbox.calls.filter((c) => c.path === 'user/clientcheckcredentials').length;
    const res = await new ApiClient(svc.url).connect('ignored', {}, { headers: { Authorization: `Bearer ${token}` }, csrf: false });
    return { status: res.status, upstreamCalls: svc.sandbox.calls.filter((c) => c.path === 'user/clientcheckcredentials').length - before, cookies: res.setCookies.length };
  }

  it.each([
    ['an iat in the future beyond the clock tolerance', () => signed({ sub: 'future-iat', iat: now() + 600 })],
    ['an nbf in the future', () => signed({ sub: 'future-nbf', iat: now(), nbf: now() + 600 })],
    ['a sub holding a control character', () => signed({ sub: 'alice\u0000admin', iat: now() })],
    ['a sub holding a line break', () => signed({ sub: 'alice\nadmin', iat: now() })],
    ['a sub longer than 128 characters', () => signed({ sub: 'x'.repeat(129), iat: now() })],
    ['an empty sub', () => signed({ sub: '', iat: now() })],
  ])('refuses %s with 401, nothing upstream, no session', async (_label, make) => {
    expect(await connectWith(await make())).toEqual({ status: 401, upstreamCalls: 0, cookies: 0 });
  });

  it('accepts an iat a little ahead, within the clock tolerance, and leaves out a profile field that fails its rule', async () => {
    const res = await connectWith(await signed({ sub: 'near-iat', iat: now() + 10, email: 'not an e-mail', given_name: 'Zoé' }));
    expect(res).toEqual({ status: 200, upstreamCalls: 1, cookies: 1 });
    const sent = JSON.parse(svc.sandbox.calls.filter((c) => c.path === 'user/clientcheckcredentials').pop()!.body);
    expect(sent).toEqual({ partnerClientId: 'near-iat', firstName: 'Zoé' });
  });

  it('refuses a 100 KB token before reading it: nothing upstream, no session', async () => {
    const huge = await signed({ sub: 'huge', iat: now(), padding: 'p'.repeat(100 * 1024) });
    expect(huge.length).toBeGreaterThan(100 * 1024);
    const res = await connectWith(huge);
    expect([401, 431]).toContain(res.status);
    expect(res.upstreamCalls).toBe(0);
    expect(res.cookies).toBe(0);
  });
});

describe('IDENTITY_MODE=jwt with a JWKS URL and with a public key', () => {
  let jwks: http.Server;
  let jwksUrl: string;
  let privateKey: CryptoKey;
  let publicPem: string;
  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey as CryptoKey;
    publicPem = await exportSPKI(pair.publicKey);
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = http.createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(async () => {
    await new Promise((r) => jwks.close(r));
  });

  const rsToken = (sub: string): Promise<string> =>
    new SignJWT({ sub }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuedAt().setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').sign(privateKey);

  it.each([
    ['JWKS', () => ({ IDENTITY_JWKS_URL: jwksUrl })],
    ['public key', () => ({ IDENTITY_JWT_PUBLIC_KEY: publicPem })],
  ])('verifies RS256 ID tokens from a %s', async (_label, keyEnv) => {
    const svc = await startTestService({ env: { IDENTITY_MODE: 'jwt', IDENTITY_JWT_ISSUER: ISSUER, IDENTITY_JWT_AUDIENCE: AUDIENCE, ...keyEnv() } });
    try {
      const ok = await new ApiClient(svc.url).connect('ignored', {}, { headers: { Authorization: `Bearer ${await rsToken('rs-user')}` }, csrf: false });
      expect(ok.status).toBe(200);
      expect(ok.json.data.user.partnerClientId).toBe('rs-user');
      // An HS256 token signed with the public key as secret (key confusion) is refused.
      const confused = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').sign(new TextEncoder().encode(publicPem));
      const bad = await new ApiClient(svc.url).connect('x', {}, { headers: { Authorization: `Bearer ${confused}` }, csrf: false });
      expect(bad.status).toBe(401);
    } finally {
      await svc.close();
    }
  });
});

describe('IDENTITY_MODE=jwt: keys come only from IDENTITY_JWKS_URL', () => {
  it('never fetches what a token header points at (jku, x5u, kid) nor uses an embedded jwk', async () => {
    const own = await generateKeyPair('RS256');
    const attacker = await generateKeyPair('RS256');
    const attackerJwk = { ...(await exportJWK(attacker.publicKey)), kid: 'evil', alg: 'RS256', use: 'sig' };
    const fetched: string[] = [];
    const serve = (keys: unknown[], log: string[] | undefined): http.Server =>
      http.createServer((req, res) => {
        log?.push(req.url ?? '');
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ keys }));
      });
    const elsewhere = serve([attackerJwk], fetched);
    const jwks = serve([{ ...(await exportJWK(own.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }], undefined);
    await Promise.all([elsewhere, jwks].map((server) => new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))));
    const urlOf = (server: http.Server, path: string): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
    const svc = await startTestService({ env: { IDENTITY_MODE: 'jwt', IDENTITY_JWKS_URL: urlOf(jwks, '/jwks.json'), IDENTITY_JWT_ISSUER: ISSUER, IDENTITY_JWT_AUDIENCE: AUDIENCE } });
    try {
      const header = { alg: 'RS256', kid: 'evil', jku: urlOf(elsewhere, '/jku'), x5u: urlOf(elsewhere, '/x5u'), jwk: attackerJwk };
      const forged = await new SignJWT({ sub: 'forged' }).setProtectedHeader(header).setIssuedAt().setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').sign(attacker.privateKey);
      const before = svc.sandbox.callCount();
      const res = await new ApiClient(svc.url).connect('x', {}, { headers: { Authorization: `Bearer ${forged}` }, csrf: false });
      expect(res.status).toBe(401);
      expect(res.setCookies).toHaveLength(0);
      expect(svc.sandbox.callCount()).toBe(before);
      expect(fetched).toEqual([]);
    } finally {
      await svc.close();
      await Promise.all([elsewhere, jwks].map((server) => new Promise((r) => server.close(r))));
    }
  });
});

describe('IDENTITY_MODE=header', () => {
  it('takes the identity from ingress headers only when the peer is a trusted proxy', async () => {
    const trusted = await startTestService({ env: { IDENTITY_MODE: 'header', TRUST_PROXY: 'loopback' } });
    const untrusted = await startTestService({ env: { IDENTITY_MODE: 'header', TRUST_PROXY: '10.0.0.1' } });
    try {
      const headers = { 'X-Auth-Request-User': 'hdr-user-1', 'X-Auth-Request-Email': 'h1@example.com' };
      const ok = await new ApiClient(trusted.url).connect('body-claims-this', {}, { headers });
      expect(ok.status).toBe(200);
      expect(ok.json.data.user.partnerClientId).toBe('hdr-user-1');
      expect(ok.json.data.user.email).toBe('h1@example.com');
      const missing = await new ApiClient(trusted.url).connect('body-claims-this');
      expect(missing.status).toBe(401);
      const spoofed = await new ApiClient(untrusted.url).connect('x', {}, { headers });
      expect(spoofed.status).toBe(401);
      // Even from the ingress, an id that breaks the partnerClientId rule never reaches the upstream.
      const before = trusted.sandbox.callCount();
      for (const user of ['hdr\tadmin', 'h'.repeat(129)]) {
        const refused = await new ApiClient(trusted.url).connect('x', {}, { headers: { 'X-Auth-Request-User': user } });
        expect(refused.status).toBe(401);
      }
      expect(trusted.sandbox.callCount()).toBe(before);
    } finally {
      await trusted.close();
      await untrusted.close();
    }
  });
});
