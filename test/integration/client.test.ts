import {
  createMilesClient,
  MilesBusinessError,
  MilesNetworkError,
  MilesNotConnectedError,
  MilesProblemError,
  type MilesClient,
} from '../../packages/client/src';
import { freePort } from '../helpers/global-setup';
import { startTestService, type TestService } from '../helpers/service';

/** Awaits a promise that must fail, and gives its error. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

/**
 * A fetch with a cookie jar, standing in for a browser: node's fetch keeps no
 * cookies. `extraHeaders` lets a test play a foreign page (an `Origin`).
 */
function browserLikeFetch(extraHeaders: Record<string, string> = {}) {
  const jar = new Map<string, string>();
  const fetchWithJar = async (url: string, init: RequestInit): Promise<Response> => {
    const headers = new Headers(init.headers);
    for (const [k, v] of Object.entries(extraHeaders)) headers.set(k, v);
    if (jar.size) headers.set('Cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (!value || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  };
  return { fetch: fetchWithJar, jar };
}

describe('the typed client against a real service', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('runs a whole journey over the token transport', async () => {
    const tokens: (string | undefined)[] = [];
    const miles: MilesClient = createMilesClient({ baseUrl: svc.url, transport: 'token', onTokenChange: (t) => tokens.push(t) });
    const user = 'client-token-1';

    const program = await miles.getProgram({ lang: 'fr' });
    expect(program.ok).toBe(true);
    expect(program.data.program.name).toBe('Récompenses démo');
    expect(program.data.actions.map((a) => a.action)).toContain('purchase');
    expect(program.requestId).toMatch(/\S/);
    expect((await miles.session()).data).toEqual({ connected: false });
    expect(await failure(miles.initialCheckStore())).toBeInstanceOf(MilesNotConnectedError);

    const connected = await miles.connect({ partnerClientId: user, email: 'c1@example.com', firstName: 'Zoé', lang: 'en' });
    expect(connected.data.user).toMatchObject({ partnerClientId: user, email: 'c1@example.com', firstName: 'Zoé' });
    expect(connected.data.user).not.toHaveProperty('userToken');
    expect(connected.session!.token).toMatch(/^mbs\./);
    expect(connected.session!.expiresIn).toBe(svc.settings.session.idleTtlSeconds);
    expect(miles.token).toBe(connected.session!.token);
    expect(tokens).toEqual([connected.session!.token]);
    expect((await miles.session()).data).toMatchObject({ connected: true, user: { partnerClientId: user } });

    const start = (await miles.initialCheckStore({ lang: 'en' })).data;
    expect(start.user.partnerClientId).toBe(user);
    expect(start.gifts.length).toBeGreaterThan(0);
    const balance0 = start.user.points;

    const earned = await miles.store('purchase', { param1: 'order/1-é', lang: 'en', idempotencyKey: true });
    expect(earned.data).toMatchObject({ earn: { action: 'purchase', param1: 'order/1-é', points: 50 }, points: balance0 + 50 });
    expect(earned.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);

    const again = await failure(miles.store('purchase', { param1: 'order/1-é' }));
    expect(again).toBeInstanceOf(MilesBusinessError);
    expect(again).toMatchObject({ errorCode: 7, status: 409, endpoint: 'generosity/store' });
    expect(await failure(miles.store('no-such-action'))).toMatchObject({ errorCode: 6, status: 404 });

    const gifts = (await miles.giftList({ lang: 'en' })).data.gifts;
    expect(gifts.find((g) => g.giftId === 'coffee')).toMatchObject({ affordable: true });
    const bought = await miles.buyGift('coffee', { idempotencyKey: true });
    expect(bought.data.burn).toMatchObject({ giftId: 'coffee', cost: 100 });
    expect(bought.data.points).toBe(balance0 + 50 - 100);
    expect(svc.sandbox.userPoints(user)).toBe(bought.data.points);
    // A retry with the same key (say after a MilesNetworkError) replays the purchase instead of buying again.
    const retried = await miles.buyGift('coffee', { idempotencyKey: bought.idempotencyKey! });
    expect(retried.data).toEqual(bought.data);
    expect(svc.sandbox.userPoints(user)).toBe(bought.data.points);
    expect(await failure(miles.buyGift('weekend_trip'))).toMatchObject({ errorCode: 4, status: 409, errorMsg: expect.any(String) });
    expect(await failure(miles.buyGift('limited_mug'))).toMatchObject({ errorCode: 5, status: 409 });

    const earns = (await miles.historyEarns({ page: 1, limit: 10 })).data;
    expect(earns).toMatchObject({ page: 1, total: 1 });
    expect(earns.earns[0]).toMatchObject({ action: 'purchase', param1: 'order/1-é' });
    const burns = (await miles.historyBurns()).data;
    expect(burns.total).toBe(1);
    expect(burns.burns[0]).toMatchObject({ giftId: 'coffee', burnId: bought.data.burn.burnId });

    for (const kind of ['bonus', 'specials', 'news'] as const) {
      const ads = (await miles.ads(kind, 'en')).data.ads;
      expect(ads.length).toBeGreaterThan(0);
      for (const ad of ads) expect(Object.keys(ad).sort()).toEqual(['adId', 'body', 'imageUrl', 'title', 'url']);
    }

    const invalid = await failure(miles.historyEarns({ limit: 1000 }));
    expect(invalid).toBeInstanceOf(MilesProblemError);
    expect(invalid).toMatchObject({ status: 400, problemCode: 'ERR_BAD_REQUEST', requestId: expect.any(String) });

    await miles.logout();
    expect(miles.token).toBeUndefined();
    expect(tokens).toEqual([connected.session!.token, undefined]);
    expect(await failure(miles.giftList())).toBeInstanceOf(MilesNotConnectedError);
  });

  it('loses its token when the session ends elsewhere (logout on another device)', async () => {
    const user = 'client-token-2';
    const phone = createMilesClient({ baseUrl: svc.url, transport: 'token' });
    const tablet = createMilesClient({ baseUrl: svc.url, transport: 'token' });
    await phone.connect({ partnerClientId: user });
    await tablet.connect({ partnerClientId: user });
    const kept = tablet.token!;
    await phone.logout();

    const err = await failure(tablet.initialCheckStore());
    expect(err).toBeInstanceOf(MilesNotConnectedError);
    expect((err as MilesNotConnectedError).status).toBe(401);
    expect(tablet.token).toBeUndefined();

    // A client restored from the dead token is refused the same way.
    const restored = createMilesClient({ baseUrl: svc.url, transport: 'token', token: kept });
    expect(await failure(restored.giftList())).toBeInstanceOf(MilesNotConnectedError);
  });

  it('works over the cookie transport with a cookie jar, X-CSRF included', async () => {
    const browser = browserLikeFetch();
    const miles = createMilesClient({ baseUrl: svc.url, fetch: browser.fetch });
    const user = 'client-cookie-1';
    const connected = await miles.connect({ partnerClientId: user });
    expect(connected.session).toBeUndefined();
    expect([...browser.jar.keys()]).toEqual([svc.settings.session.cookieName]);
    const start = (await miles.initialCheckStore()).data.user.points;
    const earned = await miles.store('review', { idempotencyKey: true });
    expect(earned.data).toMatchObject({ points: start + 20 });
    await miles.deleteUser();
    expect(browser.jar.size).toBe(0);
    expect(svc.sandbox.userPoints(user)).toBeUndefined();
    expect(await failure(miles.historyEarns())).toBeInstanceOf(MilesNotConnectedError);
  });

  it('reports the Origin rule as a 403 problem', async () => {
    const own = createMilesClient({ baseUrl: svc.url, fetch: browserLikeFetch().fetch });
    const foreign = createMilesClient({ baseUrl: svc.url, fetch: browserLikeFetch({ Origin: 'https://evil.example' }).fetch });
    await own.connect({ partnerClientId: 'client-cookie-2' });
    const err = await failure(foreign.store('review'));
    expect(err).toBeInstanceOf(MilesProblemError);
    expect(err).toMatchObject({ status: 403, problemCode: 'ERR_FORBIDDEN', title: 'Forbidden' });
  });

  it('says MilesNetworkError when nothing listens', async () => {
    const port = await freePort();
    const miles = createMilesClient({ baseUrl: `http://127.0.0.1:${port}` });
    const err = await failure(miles.store('review', { idempotencyKey: 'retry-me' }));
    expect(err).toBeInstanceOf(MilesNetworkError);
    expect(err).toMatchObject({ status: 0, aborted: false, idempotencyKey: 'retry-me' });
  });
});
