import { createHash, randomBytes } from 'node:crypto';
import { checkIdentityProvider } from '../../src/doctor/identity-provider';
import { startTestService, type TestService } from '../helpers/service';
import { CookieJar, freePort, identityProviderReady, getWith, OIDC_TEST_CLIENT, OIDC_TEST_USER, oidcEnv, signInAtProvider, startTestProvider, type TestProvider } from '../helpers/oidc-provider';

/**
 * IDENTITY_MODE=oidc against a real OpenID Provider (oidc-provider in a child process), over real
 * HTTP: the sign-in, every way a callback can be wrong (each answered by a redirect with a reason
 * and no session), the provider logout and the back-channel logout.
 */
/** Every test signs in again from the one test address: the connect limit is not what is tested here. */
const TEST_LIMITS = { RATE_LIMIT_CONNECT_MAX: '1000', SESSION_MAX_PER_USER: '1000' };

describe('IDENTITY_MODE=oidc', () => {
  let provider: TestProvider;
  let svc: TestService;
  let origin: string;
  const cookieName = 'miles.sid';

  beforeAll(async () => {
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    provider = await startTestProvider({ serviceOrigin: origin });
    svc = await startTestService({ port, env: oidcEnv(provider.issuer, origin, TEST_LIMITS) });
    await identityProviderReady(svc.internalUrl);
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    await provider?.close();
  });

  async function beginLogin(returnTo = '/'): Promise<{ jar: CookieJar; authorizationUrl: URL }> {
    const jar = new CookieJar();
    const res = await getWith(jar, `${svc.url}/api/auth/login?returnTo=${encodeURIComponent(returnTo)}`);
    expect(res.status).toBe(302);
    const authorizationUrl = new URL(res.headers.get('location')!);
    expect(authorizationUrl.origin).toBe(provider.issuer);
    return { jar, authorizationUrl };
  }

  /** The whole sign-in; answers the callback's answer and the jar holding the service's cookies. */
  async function signIn(returnTo = '/'): Promise<{ jar: CookieJar; callback: string; answer: Response }> {
    const { jar, authorizationUrl } = await beginLogin(returnTo);
    const callback = await signInAtProvider(authorizationUrl.href);
    const answer = await getWith(jar, callback);
    return { jar, callback, answer };
  }

  async function sessionOf(jar: CookieJar): Promise<{ connected: boolean; user?: Record<string, unknown> }> {
    const res = await fetch(`${svc.url}/api/session`, { headers: { cookie: jar.header() } });
    return (await res.json()) as { connected: boolean; user?: Record<string, unknown> };
  }

  function expectRefused(answer: Response, reason: string, jar: CookieJar): void {
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe(`/?signin_error=${reason}`);
    expect(jar.get(cookieName)).toBeUndefined();
  }

  /** The id of the session a jar's cookie carries (`s:<id>.<signature>`). */
  function sessionIdOf(jar: CookieJar): string {
    const value = decodeURIComponent(jar.get(cookieName)!);
    return value.slice(2, value.lastIndexOf('.'));
  }

  async function oidcSidOf(jar: CookieJar): Promise<string> {
    const stored = JSON.parse((await svc.app.store.get(`${svc.prefix}sess:${sessionIdOf(jar)}`))!) as { extra: Record<string, string> };
    return stored.extra.oidcSid!;
  }

  it('reports the provider in readiness', async () => {
    const ready = (await (await fetch(`${svc.internalUrl}/readyz`)).json()) as { status: string; checks: Record<string, string> };
    expect(ready).toEqual({ status: 'ready', checks: { settings: 'ok', store: 'ok', identityProvider: 'ok' } });
  });

  it('sends the browser to the provider with code, PKCE S256, state and nonce, bound to an HttpOnly cookie', async () => {
    const jar = new CookieJar();
    const res = await getWith(jar, `${svc.url}/api/auth/login?returnTo=/points`);
    const params = new URL(res.headers.get('location')!).searchParams;
    expect(params.get('response_type')).toBe('code');
    expect(params.get('client_id')).toBe(OIDC_TEST_CLIENT.id);
    expect(params.get('redirect_uri')).toBe(`${origin}/api/auth/callback`);
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get('state')).toBeTruthy();
    expect(params.get('nonce')).toBeTruthy();
    expect(params.get('scope')).toBe('openid email profile');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith(`${cookieName}.login=`))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    // The state is kept server-side, not in the cookie.
    expect(cookie).not.toContain(params.get('state')!);
  });

  it('signs in: the callback connects upstream, opens a new session and lands on returnTo; a replayed callback opens nothing', async () => {
    const { jar, callback, answer } = await signIn('/points?tab=1');
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/points?tab=1');
    expect(jar.get(cookieName)).toBeDefined();
    expect(await sessionOf(jar)).toEqual({
      connected: true,
      user: { partnerClientId: OIDC_TEST_USER.id, email: OIDC_TEST_USER.email, firstName: OIDC_TEST_USER.given_name, lastName: OIDC_TEST_USER.family_name },
    });
    const points = await fetch(`${svc.url}/api/partner/initialcheckstore`, { headers: { cookie: jar.header() } });
    expect(points.status).toBe(200);

    // The same callback again, from the same browser or from another one: its state was used up.
    const replayJar = new CookieJar();
    replayJar.set(`${cookieName}.login`, 'x'.repeat(32));
    expectRefused(await getWith(replayJar, callback), 'login_expired', replayJar);
    const again = new CookieJar();
    expectRefused(await getWith(again, callback), 'login_expired', again);
  });

  it('refuses a callback whose state is not the one its browser started with', async () => {
    const { jar, authorizationUrl } = await beginLogin();
    const callback = new URL(await signInAtProvider(authorizationUrl.href));
    callback.searchParams.set('state', 'forged-state');
    expectRefused(await getWith(jar, callback.href), 'state_mismatch', jar);
  });

  it('refuses a callback without the login cookie (another browser)', async () => {
    const { authorizationUrl } = await beginLogin();
    const callback = await signInAtProvider(authorizationUrl.href);
    const stranger = new CookieJar();
    expectRefused(await getWith(stranger, callback), 'login_expired', stranger);
  });

  it('passes on the provider refusal (access_denied) without a session', async () => {
    const { jar, authorizationUrl } = await beginLogin();
    const state = authorizationUrl.searchParams.get('state')!;
    const answer = await getWith(jar, `${origin}/api/auth/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(provider.issuer)}`);
    expectRefused(answer, 'access_denied', jar);
  });

  it('counts sign-ins by outcome, any other error of the provider under one label', async () => {
    const count = async (outcome: string): Promise<number> =>
      (await svc.app.metrics.signIns.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    const before = { signedIn: await count('signed-in'), state: await count('state_mismatch'), other: await count('other') };

    expect((await signIn()).answer.status).toBe(302);
    const forged = await beginLogin();
    const callback = new URL(await signInAtProvider(forged.authorizationUrl.href));
    callback.searchParams.set('state', 'forged-state');
    expectRefused(await getWith(forged.jar, callback.href), 'state_mismatch', forged.jar);
    const refused = await beginLogin();
    const state = refused.authorizationUrl.searchParams.get('state')!;
    const answer = await getWith(refused.jar, `${origin}/api/auth/callback?error=temporarily_unavailable&state=${state}&iss=${encodeURIComponent(provider.issuer)}`);
    expect(answer.headers.get('location')).toMatch(/^\/\?signin_error=/);

    expect(await count('signed-in')).toBe(before.signedIn + 1);
    expect(await count('state_mismatch')).toBe(before.state + 1);
    expect(await count('other')).toBe(before.other + 1);
    expect(await count('temporarily_unavailable')).toBe(0);
  });

  it('refuses a tampered code', async () => {
    const { jar, authorizationUrl } = await beginLogin();
    const callback = new URL(await signInAtProvider(authorizationUrl.href));
    callback.searchParams.set('code', `${callback.searchParams.get('code')!}x`);
    expectRefused(await getWith(jar, callback.href), 'invalid_response', jar);
  });

  it.each([
    ['a nonce that is not the one sent', { nonce: 'another-nonce' }],
    ['another audience', { aud: 'another-client' }],
    ['an expired ID token', { expired: true }],
    ['an unsigned ID token (alg none)', { algNone: true }],
  ])('refuses %s', async (_what, change) => {
    const { jar, authorizationUrl } = await beginLogin();
    const callback = await signInAtProvider(authorizationUrl.href);
    await provider.alterNextIdToken(change);
    expectRefused(await getWith(jar, callback), 'invalid_response', jar);
  });

  it.each(['https://evil.example', '//evil', '/\\evil', '/\t/evil', 'javascript:alert(1)'])('lands on / for returnTo %j', async (returnTo) => {
    const { jar, answer } = await signIn(returnTo);
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/');
    expect((await sessionOf(jar)).connected).toBe(true);
  });

  it('logs out: upstream logout, every session of the user ended, then the provider logout with the ID token hint', async () => {
    const { jar } = await signIn();
    const other = await signIn();
    const res = await getWith(jar, `${svc.url}/api/auth/logout`);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(`${provider.issuer}/session/end`);
    expect(location.searchParams.get('post_logout_redirect_uri')).toBe(`${origin}/`);
    expect(location.searchParams.get('id_token_hint')).toBeTruthy();
    expect((await sessionOf(jar)).connected).toBe(false);
    expect((await sessionOf(other.jar)).connected).toBe(false);
  });

  it('does not log out on a cross-site navigation', async () => {
    const { jar } = await signIn();
    const res = await fetch(`${svc.url}/api/auth/logout`, { redirect: 'manual', headers: { cookie: jar.header(), 'sec-fetch-site': 'cross-site' } });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/');
    expect((await sessionOf(jar)).connected).toBe(true);
  });

  describe('back-channel logout', () => {
    async function post(token: string | undefined): Promise<Response> {
      return fetch(`${svc.url}/api/auth/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: token === undefined ? '' : new URLSearchParams({ logout_token: token }).toString(),
      });
    }

    it('ends the sessions of the provider session it names, once', async () => {
      const a = await signIn();
      const b = await signIn();
      const token = await provider.logoutToken({ sid: await oidcSidOf(a.jar), sub: OIDC_TEST_USER.id });
      const res = await post(token);
      expect(res.status).toBe(200);
      expect((await sessionOf(a.jar)).connected).toBe(false);
      expect((await sessionOf(b.jar)).connected).toBe(true);
      expect((await post(token)).status).toBe(400);
    });

    it('ends every session of the user it names by sub alone', async () => {
      const a = await signIn();
      const b = await signIn();
      expect((await post(await provider.logoutToken({ sub: OIDC_TEST_USER.id }))).status).toBe(200);
      expect((await sessionOf(a.jar)).connected).toBe(false);
      expect((await sessionOf(b.jar)).connected).toBe(false);
    });

    it('ends them on every replica: the token reaches another replica than the one signed in at', async () => {
      // A second replica of the same deployment: same settings, same Redis key prefix, behind the same origin.
      const other = await startTestService({ prefix: svc.prefix, env: oidcEnv(provider.issuer, origin, TEST_LIMITS) });
      try {
        await identityProviderReady(other.internalUrl);
        const a = await signIn();
        const connectedAtOther = async (): Promise<boolean> =>
          ((await (await fetch(`${other.url}/api/session`, { headers: { cookie: a.jar.header() } })).json()) as { connected: boolean }).connected;
        expect(await connectedAtOther()).toBe(true);
        const res = await fetch(`${other.url}/api/auth/backchannel-logout`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ logout_token: await provider.logoutToken({ sid: await oidcSidOf(a.jar), sub: OIDC_TEST_USER.id }) }).toString(),
        });
        expect(res.status).toBe(200);
        expect((await sessionOf(a.jar)).connected).toBe(false);
        expect(await connectedAtOther()).toBe(false);
      } finally {
        await other.close();
      }
    });

    it.each([
      ['no logout_token', undefined, {}],
      ['an unsigned token', { sub: OIDC_TEST_USER.id }, { algNone: true }],
      ['another audience', { sub: OIDC_TEST_USER.id, aud: 'another-client' }, {}],
      ['another issuer', { sub: OIDC_TEST_USER.id, iss: 'https://idp.evil.example' }, {}],
      ['a nonce', { sub: OIDC_TEST_USER.id, nonce: 'n' }, {}],
      ['no events claim', { sub: OIDC_TEST_USER.id, events: null }, {}],
      ['neither sid nor sub', { sub: null }, {}],
      ['no jti', { sub: OIDC_TEST_USER.id, jti: null }, {}],
    ])('answers 400 to %s and ends nothing', async (_what, claims, options) => {
      const a = await signIn();
      const token = claims === undefined ? undefined : await provider.logoutToken(claims, options);
      const res = await post(token);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect((await sessionOf(a.jar)).connected).toBe(true);
    });
  });

  it('answers 405 to another method on the sign-in routes (no HEAD: it would start or use up a sign-in)', async () => {
    for (const [method, path, allow] of [
      ['HEAD', 'login', 'GET'],
      ['HEAD', 'callback', 'GET'],
      ['POST', 'login', 'GET'],
      ['GET', 'backchannel-logout', 'POST'],
    ] as const) {
      const res = await fetch(`${svc.url}/api/auth/${path}`, { method, redirect: 'manual' });
      expect([method, path, res.status, res.headers.get('allow')]).toEqual([method, path, 405, allow]);
    }
  });

  it('refuses the body connect: browsers sign in through /api/auth/login', async () => {
    const res = await fetch(`${svc.url}/api/user/clientcheckcredentials`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf': '1' },
      body: JSON.stringify({ partnerClientId: 'someone' }),
    });
    expect(res.status).toBe(401);
  });

  it('passes the go-live check of the identity provider: discovery, keys, both logouts', async () => {
    const result = await checkIdentityProvider(svc.settings.identity.oidc!, 5000);
    expect(result).toMatchObject({ name: 'identity-provider', status: 'pass', data: { issuer: provider.issuer, keys: 1, endSession: true, backchannelLogout: true } });
  });
});

describe('IDENTITY_MODE=oidc with the provider out of reach', () => {
  let svc: TestService;
  let issuer: string;

  beforeAll(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${await freePort()}`;
    svc = await startTestService({ port, env: oidcEnv(issuer, `http://127.0.0.1:${port}`) });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('starts, is not ready, and sends a sign-in back with a reason instead of failing', async () => {
    let ready: { status: string; checks: Record<string, string> };
    // The first discovery attempt is under way at start: wait for its failure to show.
    do {
      const res = await fetch(`${svc.internalUrl}/readyz`);
      expect(res.status).toBe(503);
      ready = (await res.json()) as typeof ready;
    } while (ready.checks.identityProvider === 'discovering');
    expect(ready.checks).toEqual({ settings: 'ok', store: 'ok', identityProvider: 'unavailable' });

    const login = await fetch(`${svc.url}/api/auth/login?returnTo=/`, { redirect: 'manual' });
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toBe('/?signin_error=provider_unavailable');
    // A back-channel logout cannot be checked yet: the provider may retry it.
    const logout = await fetch(`${svc.url}/api/auth/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'logout_token=x' });
    expect(logout.status).toBe(503);
    expect(svc.logs.join('')).toContain('OpenID Provider discovery failed; retrying');
  });

  it('fails the go-live check of the identity provider, naming the setting', async () => {
    const result = await checkIdentityProvider(svc.settings.identity.oidc!, 2000);
    expect(result).toMatchObject({ name: 'identity-provider', status: 'fail', summary: expect.stringContaining(`discovery at ${issuer} failed`), fix: expect.stringContaining('OIDC_ISSUER_URL') });
  });
});

describe('IDENTITY_MODE=oidc with OIDC_ACCEPT_ID_TOKENS: native apps connect with their own ID token', () => {
  const NATIVE = { client_id: 'miles-native-app', redirect: 'http://127.0.0.1:9/native-callback' };
  let provider: TestProvider;
  let svc: TestService;

  beforeAll(async () => {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    provider = await startTestProvider({
      serviceOrigin: origin,
      extraClients: [{ client_id: NATIVE.client_id, token_endpoint_auth_method: 'none', redirect_uris: [NATIVE.redirect], response_types: ['code'], grant_types: ['authorization_code'] }],
    });
    svc = await startTestService({ port, env: oidcEnv(provider.issuer, origin, { OIDC_ACCEPT_ID_TOKENS: 'true', OIDC_ID_TOKEN_AUDIENCES: NATIVE.client_id }) });
    await identityProviderReady(svc.internalUrl);
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    await provider?.close();
  });

  /** What a native app does with AppAuth: code flow with PKCE at the provider, then its own token request. */
  async function nativeIdToken(): Promise<string> {
    const verifier = randomBytes(32).toString('base64url');
    const authorize = new URL(`${provider.issuer}/auth`);
    authorize.search = new URLSearchParams({
      client_id: NATIVE.client_id,
      redirect_uri: NATIVE.redirect,
      response_type: 'code',
      scope: 'openid email profile',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      nonce: randomBytes(16).toString('base64url'),
    }).toString();
    const code = new URL(await signInAtProvider(authorize.href)).searchParams.get('code')!;
    const res = await fetch(`${provider.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: NATIVE.redirect, client_id: NATIVE.client_id, code_verifier: verifier }).toString(),
    });
    return ((await res.json()) as { id_token: string }).id_token;
  }

  function connect(idToken: string): Promise<Response> {
    return fetch(`${svc.url}/api/user/clientcheckcredentials`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${idToken}`, 'x-session-transport': 'token' },
      body: '{}',
    });
  }

  it('connects with the token transport, the user named by the ID token', async () => {
    const res = await connect(await nativeIdToken());
    expect(res.status).toBe(200);
    const body = (await res.json()) as { session: { token: string }; data: { user: Record<string, unknown> } };
    expect(body.session.token).toMatch(/^mbs\./);
    const session = (await (await fetch(`${svc.url}/api/session`, { headers: { authorization: `Bearer ${body.session.token}` } })).json()) as { user: Record<string, unknown> };
    expect(session.user).toMatchObject({ partnerClientId: OIDC_TEST_USER.id, email: OIDC_TEST_USER.email });
  });

  it('refuses an ID token for another audience, or altered', async () => {
    const token = await nativeIdToken();
    const [header, payload] = token.split('.');
    const forged = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
    forged.sub = 'someone-else';
    expect((await connect(`${header}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${token.split('.')[2]}`)).status).toBe(401);
    await provider.alterNextIdToken({ aud: 'another-client' });
    expect((await connect(await nativeIdToken())).status).toBe(401);
  });
});
