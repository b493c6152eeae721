import { createClient } from 'redis';
import { frontEndpoints } from '../../src/upstream/catalogue';
import { ApiClient } from '../helpers/http';
import { testRedisUrl } from '../helpers/redis';
import { startTestService, type TestService } from '../helpers/service';

/** Every userToken the sandbox ever received as `sub` during this suite. */
function userTokensSeen(svc: TestService): string[] {
  return [...new Set(svc.sandbox.calls.map((c) => c.sub).filter((s) => s.length > 0))];
}

describe('a user journey through /api (cookie sessions)', () => {
  let svc: TestService;
  const answers: string[] = [];
  const record = <T extends { text: string; headers: Headers }>(r: T): T => {
    answers.push(r.text, JSON.stringify([...r.headers.entries()]));
    return r;
  };

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('connects, earns, buys, reads histories and ads, logs out', async () => {
    const api = new ApiClient(svc.url);
    const anon = record(await api.get('/api/session'));
    expect(anon.status).toBe(200);
    expect(anon.json).toEqual({ connected: false });
    expect(anon.setCookies).toHaveLength(0);

    const connect = record(await api.connect('journey-1', { email: 'j1@example.com', firstName: 'Zoé', lastName: 'Ünal', lang: 'fr' }));
    expect(connect.status).toBe(200);
    expect(connect.json.errorCode).toBe(0);
    expect(connect.json.data.user.partnerClientId).toBe('journey-1');
    expect(connect.json.data.user).not.toHaveProperty('userToken');
    const cookie = connect.setCookies.find((c) => c.startsWith('miles.sid='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\//);

    const who = record(await api.get('/api/session'));
    expect(who.json).toEqual({ connected: true, user: { partnerClientId: 'journey-1', email: 'j1@example.com', firstName: 'Zoé', lastName: 'Ünal' } });

    const start = record(await api.get('/api/partner/initialcheckstore?lang=en'));
    expect(start.status).toBe(200);
    const balance0 = start.json.data.user.points as number;

    const earn = record(await api.post('/api/generosity/store', { action: 'purchase', param1: 'order-1/é' }));
    expect(earn.status).toBe(200);
    expect(earn.json.data.points).toBe(balance0 + earn.json.data.earn.points);

    const again = record(await api.post('/api/generosity/store', { action: 'purchase', param1: 'order-1/é' }));
    expect(again.status).toBe(409);
    expect(again.json.errorCode).toBe(7);

    const unknownAction = record(await api.post('/api/generosity/store', { action: 'no-such-action' }));
    expect(unknownAction.status).toBe(404);
    expect(unknownAction.json.errorCode).toBe(6);

    const gifts = record(await api.get('/api/gift/list'));
    expect(gifts.status).toBe(200);
    expect(gifts.json.data.gifts.length).toBeGreaterThanOrEqual(4);

    const buy = record(await api.post('/api/gift/checkavailability', { giftId: 'coffee' }));
    expect(buy.status).toBe(200);
    expect(buy.json.data.burn.giftId).toBe('coffee');
    expect(svc.sandbox.userPoints('journey-1')).toBe(buy.json.data.points);

    const tooExpensive = record(await api.post('/api/gift/checkavailability', { giftId: 'weekend_trip' }));
    expect(tooExpensive.status).toBe(409);
    expect(tooExpensive.json.errorCode).toBe(4);
    const outOfStock = record(await api.post('/api/gift/checkavailability', { giftId: 'limited_mug' }));
    expect(outOfStock.status).toBe(409);
    expect(outOfStock.json.errorCode).toBe(5);

    const burns = record(await api.get('/api/user/historyburns?page=1&limit=10'));
    expect(burns.status).toBe(200);
    expect(burns.json.data.burns).toHaveLength(1);
    const earns = record(await api.post('/api/user/historyearns', { page: 1, limit: 5 }));
    expect(earns.status).toBe(200);
    expect(earns.json.data.earns.some((e: { param1?: string }) => e.param1 === 'order-1/é')).toBe(true);

    for (const kind of ['bonus', 'specials', 'news']) {
      const ads = record(await api.get(`/api/ad/${kind}?lang=fr`));
      expect(ads.status).toBe(200);
      expect(Array.isArray(ads.json.data.ads)).toBe(true);
    }

    const logout = record(await api.post('/api/user/logout', {}));
    expect(logout.status).toBe(200);
    expect(logout.json.errorCode).toBe(0);
    expect(logout.setCookies.some((c) => c.startsWith('miles.sid=') && /Expires=Thu, 01 Jan 1970/i.test(c))).toBe(true);

    const after = record(await api.get('/api/session'));
    expect(after.json).toEqual({ connected: false });
    const denied = record(await api.get('/api/gift/list'));
    expect(denied.status).toBe(401);
    expect(denied.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  it('answers every front-end endpoint of the catalogue on its routes', async () => {
    const api = new ApiClient(svc.url);
    await api.connect('journey-all');
    for (const e of frontEndpoints) {
      if (e.sessionEffect !== 'none') continue;
      const body = e.path === 'generosity/store' ? { action: 'review' } : e.path === 'gift/checkavailability' ? { giftId: 'coffee' } : {};
      const post = record(await api.post(`/api/${e.path}`, body));
      expect([e.path, post.status]).toEqual([e.path, 200]);
      if (e.allowGet) {
        const get = record(await api.get(`/api/${e.path}`));
        expect([e.path, get.status]).toEqual([e.path, 200]);
      } else {
        const get = record(await api.get(`/api/${e.path}`));
        expect([e.path, get.status]).toEqual([e.path, 405]);
      }
    }
    const del = record(await api.post('/api/user/delete'));
    expect(del.status).toBe(200);
    expect(svc.sandbox.userPoints('journey-all')).toBeUndefined();
    expect((await api.get('/api/session')).json.connected).toBe(false);
  });

  it('never lets a userToken out: answers, headers, logs and the session store', async () => {
    const tokens = userTokensSeen(svc);
    expect(tokens.length).toBeGreaterThan(0);
    const redis = createClient({ url: testRedisUrl() });
    await redis.connect();
    try {
      const keys: string[] = [];
      for await (const batch of redis.scanIterator({ MATCH: `${svc.prefix}*`, COUNT: 500 })) keys.push(...batch);
      const values: string[] = [];
      for (const k of keys) {
        const type = await redis.type(k);
        if (type === 'string') values.push((await redis.get(k)) ?? '');
        if (type === 'set') values.push(...(await redis.sMembers(k)));
      }
      const haystacks = [...answers, ...svc.logs, ...values];
      for (const token of tokens) {
        for (const h of haystacks) expect(h.includes(token)).toBe(false);
      }
      expect(svc.logs.join('\n')).not.toContain(svc.settings.upstream.kind === 'remote' ? svc.settings.upstream.partnerSecret : 'x'.repeat(99));
    } finally {
      await redis.close();
    }
  });
});
