import { randomBytes } from 'node:crypto';
import { DEMO_PROGRAM, ENDPOINT_PATHS, startSandbox, type Sandbox } from '../../../src/sandbox';
import { backendToken, connectUser, makeCaller, type Caller, type CallResult } from '../../helpers/raw-sign';

const partnerId = 'partner-main';
const secret = randomBytes(32).toString('hex');
const START = Date.UTC(2024, 2, 10, 8, 0, 0);
let clock = START;

let sandbox: Sandbox;
let call: Caller;
let back: string;

beforeAll(async () => {
  sandbox = await startSandbox({ partners: [{ id: partnerId, secret }], now: () => clock });
  call = makeCaller(sandbox.url, { partnerId, secret, clock: () => clock });
  back = await backendToken(call);
});

afterAll(async () => {
  await sandbox.close();
});

/** `data` of a success, failing the test on any refusal. */
function ok(res: CallResult): Record<string, unknown> {
  expect({ status: res.status, errorCode: res.json?.errorCode, errorMsg: res.json?.errorMsg }).toEqual({ status: 200, errorCode: 0, errorMsg: 'ok' });
  return res.json?.data ?? {};
}

function business(res: CallResult, errorCode: number): void {
  expect({ status: res.status, errorCode: res.json?.errorCode }).toEqual({ status: 200, errorCode });
  expect(res.json).not.toHaveProperty('data');
}

let unique = 0;
const newId = (label: string): string => `${label}-${(unique += 1)}`;

describe('sandbox: the demo program', () => {
  it('offers what the front-end tests need', () => {
    const newUser = DEMO_PROGRAM.startingBalance;
    const gifts = DEMO_PROGRAM.gifts;
    expect(gifts.some((g) => g.stock > 0 && g.cost <= newUser)).toBe(true);
    expect(gifts.some((g) => g.stock > 0 && g.cost > newUser)).toBe(true);
    expect(gifts.some((g) => g.stock === 0)).toBe(true);
    expect(DEMO_PROGRAM.actions.length).toBeGreaterThanOrEqual(4);
    // 13 front-end endpoints, auth/token and 7 other back-end endpoints.
    expect(ENDPOINT_PATHS).toHaveLength(21);
  });
});

describe('sandbox: front-end endpoints', () => {
  it('partner/getprog answers the program in English by default and in French on request', async () => {
    const en = ok(await call('partner/getprog'));
    expect(en.program).toEqual({ name: 'Demo Rewards', currency: 'stars' });
    expect(en.actions).toEqual(
      expect.arrayContaining([
        { action: 'welcome', name: 'Welcome bonus', points: 100, maxPerUser: 1 },
        { action: 'purchase', name: expect.stringContaining('Purchase'), points: 50 },
      ]),
    );
    expect(en.gifts).toEqual(expect.arrayContaining([{ giftId: 'limited_mug', name: 'Limited-edition mug', cost: 120, stock: 0 }]));
    const fr = ok(await call('partner/getprog', { bodyObj: { lang: 'fr' } }));
    expect(fr.program).toEqual({ name: 'Récompenses démo', currency: 'étoiles' });
    expect(ok(await call('partner/getprog', { bodyObj: { lang: 'fr-FR' } })).program).toEqual(fr.program);
    expect(ok(await call('partner/getprog', { bodyObj: { lang: 'de' } })).program).toEqual(en.program);
  });

  it('answers JSON as PHP writes it (escaped slashes, \\u escapes)', async () => {
    const sub = await connectUser(call, newId('u-php'));
    const res = await call('ad/news', { sub, bodyObj: { lang: 'fr' } });
    expect(res.text).toContain('https:\\/\\/example.com\\/');
    expect(res.text).toContain('\\u00e0');
    expect([...res.text].every((c) => c.charCodeAt(0) < 0x80)).toBe(true);
  });

  it('user/clientcheckcredentials creates the user with the starting balance and issues a new token per call', async () => {
    const id = newId('u-connect');
    const first = ok(await call('user/clientcheckcredentials', { bodyObj: { partnerClientId: id, email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', dataConsentCode: 1, lang: 'fr' } }));
    expect(first.user).toEqual({ userToken: expect.stringMatching(/^[0-9a-f]{64}$/), partnerClientId: id, email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', points: 150, optIn: true });
    const second = ok(await call('user/clientcheckcredentials', { bodyObj: { partnerClientId: id } }));
    const t1 = (first.user as { userToken: string }).userToken;
    const t2 = (second.user as { userToken: string }).userToken;
    expect(t2).not.toBe(t1);
    expect(second.user).toMatchObject({ email: 'ada@example.com', points: 150, optIn: true });
    // Both devices stay connected.
    ok(await call('gift/list', { sub: t1 }));
    ok(await call('gift/list', { sub: t2 }));
    expect(sandbox.userPoints(id)).toBe(150);
  });

  it('partner/initialcheckstore adds the user to the program', async () => {
    const id = newId('u-ics');
    const sub = await connectUser(call, id);
    const data = ok(await call('partner/initialcheckstore', { sub, bodyObj: { lang: 'en' } }));
    expect(data.user).toEqual({ partnerClientId: id, points: 150, optIn: false });
    expect(data.program).toEqual({ name: 'Demo Rewards', currency: 'stars' });
    expect(Array.isArray(data.actions) && Array.isArray(data.gifts)).toBe(true);
  });

  it('generosity/store earns points and enforces 6 and 7', async () => {
    const id = newId('u-store');
    const sub = await connectUser(call, id);
    const first = ok(await call('generosity/store', { sub, bodyObj: { action: 'welcome' } }));
    expect(first).toEqual({ earn: { earnId: expect.any(String), action: 'welcome', points: 100, date: new Date(clock).toISOString() }, points: 250 });
    business(await call('generosity/store', { sub, bodyObj: { action: 'welcome' } }), 7);
    business(await call('generosity/store', { sub, bodyObj: { action: 'no_such_action' } }), 6);
    const order = ok(await call('generosity/store', { sub, bodyObj: { action: 'purchase', param1: 'order/42', lang: 'fr' } }));
    expect(order).toMatchObject({ earn: { action: 'purchase', points: 50, param1: 'order/42' }, points: 300 });
    business(await call('generosity/store', { sub, bodyObj: { action: 'purchase', param1: 'order/42' } }), 7);
    ok(await call('generosity/store', { sub, bodyObj: { action: 'purchase', param1: 'order/43' } }));
    // Without param1 an action is limited only by its maxPerUser (none for purchase).
    ok(await call('generosity/store', { sub, bodyObj: { action: 'purchase' } }));
    ok(await call('generosity/store', { sub, bodyObj: { action: 'purchase' } }));
    ok(await call('generosity/store', { sub, bodyObj: { action: 'newsletter_signup' } }));
    business(await call('generosity/store', { sub, bodyObj: { action: 'newsletter_signup', param1: 'again' } }), 7);
    expect(sandbox.userPoints(id)).toBe(150 + 100 + 50 * 4 + 30);
  });

  it('gift/list says which gifts the user can afford', async () => {
    const sub = await connectUser(call, newId('u-list'));
    const data = ok(await call('gift/list', { sub, bodyObj: { lang: 'fr' } }));
    const byId = Object.fromEntries((data.gifts as Array<{ giftId: string; affordable: boolean }>).map((g) => [g.giftId, g]));
    expect(byId.coffee).toEqual({ giftId: 'coffee', name: 'Bon pour un café', cost: 100, stock: expect.any(Number), affordable: true });
    expect(byId.cinema_ticket?.affordable).toBe(false);
    expect(byId.weekend_trip?.affordable).toBe(false);
    expect(byId.limited_mug?.affordable).toBe(false);
  });

  it('gift/checkavailability buys, takes stock, and enforces 4 and 5', async () => {
    const id = newId('u-buy');
    const sub = await connectUser(call, id, { lang: 'fr' });
    const stockBefore = (ok(await call('partner/getprog')).gifts as Array<{ giftId: string; stock: number }>).find((g) => g.giftId === 'coffee')?.stock;
    business(await call('gift/checkavailability', { sub, bodyObj: { giftId: 'weekend_trip' } }), 4);
    business(await call('gift/checkavailability', { sub, bodyObj: { giftId: 'limited_mug' } }), 5);
    business(await call('gift/checkavailability', { sub, bodyObj: { giftId: 'unicorn' } }), 5);
    const bought = ok(await call('gift/checkavailability', { sub, bodyObj: { giftId: 'coffee' } }));
    expect(bought).toEqual({ burn: { burnId: expect.any(String), giftId: 'coffee', name: 'Bon pour un café', cost: 100, date: expect.any(String) }, points: 50 });
    const stockAfter = (ok(await call('partner/getprog')).gifts as Array<{ giftId: string; stock: number }>).find((g) => g.giftId === 'coffee')?.stock;
    expect(stockAfter).toBe((stockBefore ?? 0) - 1);
    business(await call('gift/checkavailability', { sub, bodyObj: { giftId: 'coffee' } }), 4);
    expect(sandbox.userPoints(id)).toBe(50);
  });

  it('user/historyearns and user/historyburns page newest first', async () => {
    const sub = await connectUser(call, newId('u-hist'));
    for (let i = 1; i <= 5; i += 1) {
      clock += 1000;
      ok(await call('generosity/store', { sub, bodyObj: { action: 'purchase', param1: `o${i}` } }));
    }
    const all = ok(await call('user/historyearns', { sub }));
    expect(all.total).toBe(5);
    expect(all.page).toBe(1);
    expect((all.earns as Array<{ param1: string }>).map((e) => e.param1)).toEqual(['o5', 'o4', 'o3', 'o2', 'o1']);
    const second = ok(await call('user/historyearns', { sub, bodyObj: { page: 2, limit: 2 } }));
    expect(second).toMatchObject({ page: 2, total: 5 });
    expect((second.earns as Array<{ param1: string }>).map((e) => e.param1)).toEqual(['o3', 'o2']);
    expect(ok(await call('user/historyearns', { sub, bodyObj: { page: 9 } })).earns).toEqual([]);

    expect(ok(await call('user/historyburns', { sub }))).toEqual({ burns: [], page: 1, total: 0 });
    clock += 1000;
    ok(await call('gift/checkavailability', { sub, bodyObj: { giftId: 'coffee' } }));
    clock += 1000;
    ok(await call('gift/checkavailability', { sub, bodyObj: { giftId: 'cinema_ticket' } }));
    const burns = ok(await call('user/historyburns', { sub, bodyObj: { limit: 1 } }));
    expect(burns).toMatchObject({ page: 1, total: 2, burns: [{ giftId: 'cinema_ticket', name: 'Cinema ticket', cost: 300 }] });
  });

  it('ad/bonus, ad/specials and ad/news answer localised ads', async () => {
    const sub = await connectUser(call, newId('u-ads'));
    for (const path of ['ad/bonus', 'ad/specials', 'ad/news']) {
      const en = ok(await call(path, { sub })).ads as Array<Record<string, string>>;
      const fr = ok(await call(path, { sub, bodyObj: { lang: 'fr' } })).ads as Array<Record<string, string>>;
      expect(en.length).toBeGreaterThan(0);
      expect(Object.keys(en[0] ?? {}).sort()).toEqual(['adId', 'body', 'imageUrl', 'title', 'url']);
      expect(fr.map((a) => a.adId)).toEqual(en.map((a) => a.adId));
      expect(fr[0]?.title).not.toBe(en[0]?.title);
    }
  });

  it('user/logout kills every userToken of the user', async () => {
    const id = newId('u-out');
    const a = await connectUser(call, id);
    const b = await connectUser(call, id);
    expect(ok(await call('user/logout', { sub: a }))).toEqual({});
    expect((await call('gift/list', { sub: a })).json?.errorCode).toBe(3);
    expect((await call('gift/list', { sub: b })).json?.errorCode).toBe(3);
    expect(sandbox.userPoints(id)).toBe(150);
  });

  it('user/delete removes the user, their history and their tokens', async () => {
    const id = newId('u-del');
    const sub = await connectUser(call, id);
    ok(await call('generosity/store', { sub, bodyObj: { action: 'welcome' } }));
    expect(ok(await call('user/delete', { sub }))).toEqual({});
    expect(sandbox.userPoints(id)).toBeUndefined();
    expect((await call('gift/list', { sub })).json?.errorCode).toBe(3);
    business(await call('user/info', { sub: back, bodyObj: { partnerClientId: id } }), 11);
    const again = await connectUser(call, id);
    expect(ok(await call('user/historyearns', { sub: again })).total).toBe(0);
    expect(sandbox.userPoints(id)).toBe(150);
  });
});

describe('sandbox: back-end endpoints', () => {
  it('auth/token gives a token and its life', async () => {
    const data = ok(await call('auth/token', { bodyText: '[]' }));
    expect(data).toEqual({ token: expect.stringMatching(/^[0-9a-f]{64}$/), expiresIn: 3600 });
  });

  it('buffer/store creates an unknown user, stores the given date, refuses 6 before creating anyone', async () => {
    const id = newId('u-buffer');
    business(await call('buffer/store', { sub: back, bodyObj: { partnerClientId: id, action: 'nope' } }), 6);
    expect(sandbox.userPoints(id)).toBeUndefined();
    const data = ok(await call('buffer/store', { sub: back, bodyObj: { partnerClientId: id, action: 'review', param1: 'sku-1', date: '2024-01-02T03:04:05+01:00' } }));
    expect(data).toEqual({ earn: { earnId: expect.any(String), action: 'review', points: 20, param1: 'sku-1', date: '2024-01-02T02:04:05.000Z' }, points: 170 });
    business(await call('buffer/store', { sub: back, bodyObj: { partnerClientId: id, action: 'review', param1: 'sku-1' } }), 7);
    business(await call('buffer/store', { sub: back, bodyObj: { partnerClientId: id, action: 'review', date: '2024-13-45' } }), 2);
    expect(sandbox.userPoints(id)).toBe(170);
  });

  it('generosity/multistore answers per id and creates unknown users', async () => {
    const known = newId('u-multi');
    const sub = await connectUser(call, known);
    ok(await call('generosity/store', { sub, bodyObj: { action: 'newsletter_signup' } }));
    const fresh = newId('u-multi-new');
    const data = ok(await call('generosity/multistore', { sub: back, bodyObj: { action: 'newsletter_signup', partnerClientIds: [known, fresh] } }));
    expect(data.results).toEqual([
      { partnerClientId: known, errorCode: 7 },
      { partnerClientId: fresh, errorCode: 0, points: 180 },
    ]);
    business(await call('generosity/multistore', { sub: back, bodyObj: { action: 'nope', partnerClientIds: [known] } }), 6);
  });

  it('user/info answers one user; 11 for an unknown one', async () => {
    const id = newId('u-info');
    await connectUser(call, id, { email: 'zoe@example.com', firstName: 'Zoé', lastName: 'Durand' });
    expect(ok(await call('user/info', { sub: back, bodyObj: { partnerClientId: id } }))).toEqual({
      user: { partnerClientId: id, email: 'zoe@example.com', firstName: 'Zoé', lastName: 'Durand', points: 150, optIn: false },
    });
    business(await call('user/info', { sub: back, bodyObj: { partnerClientId: 'ghost' } }), 11);
  });

  it('user/infos answers all users or the listed ones, paged', async () => {
    const a = newId('u-infos');
    const b = newId('u-infos');
    await connectUser(call, a);
    await connectUser(call, b);
    const listed = ok(await call('user/infos', { sub: back, bodyObj: { partnerClientIds: [b, 'ghost', a] } }));
    expect(listed).toMatchObject({ page: 1, total: 2 });
    expect((listed.users as Array<{ partnerClientId: string }>).map((u) => u.partnerClientId)).toEqual([b, a]);
    const all = ok(await call('user/infos', { sub: back, bodyObj: { limit: 1, page: 2 } }));
    expect((all.users as unknown[]).length).toBe(1);
    expect(all.total).toBeGreaterThanOrEqual(2);
  });

  it('user/incrementalinfos answers the users changed since a date, with their history', async () => {
    clock += 3_600_000;
    // An hour later, the back-end token of the suite has expired: the clock is the sandbox's.
    expect((await call('user/infos', { sub: back })).json?.errorCode).toBe(10);
    back = await backendToken(call);
    const since = Math.floor(clock / 1000);
    const id = newId('u-incr');
    const sub = await connectUser(call, id);
    ok(await call('generosity/store', { sub, bodyObj: { action: 'welcome' } }));
    ok(await call('gift/checkavailability', { sub, bodyObj: { giftId: 'coffee' } }));
    const data = ok(await call('user/incrementalinfos', { sub: back, bodyObj: { since } }));
    expect(data).toMatchObject({ page: 1, total: 1 });
    expect(data.users).toEqual([
      {
        partnerClientId: id,
        email: '',
        points: 150,
        earns: [expect.objectContaining({ action: 'welcome', points: 100 })],
        burns: [expect.objectContaining({ giftId: 'coffee', cost: 100 })],
      },
    ]);
    expect(ok(await call('user/incrementalinfos', { sub: back, bodyObj: { since: since + 1 } })).total).toBe(0);
    expect(ok(await call('user/incrementalinfos', { sub: back, bodyObj: { since: 0, limit: 1 } })).total).toBeGreaterThan(1);
  });

  it('user/ranking answers the user with up to n above and below; 11 for an unknown one', async () => {
    // Balances far above the others so this group is ranked on its own at the top.
    const ids = [newId('r'), newId('r'), newId('r'), newId('r'), newId('r')];
    for (const [i, id] of ids.entries()) {
      for (let k = 0; k <= i; k += 1) ok(await call('buffer/store', { sub: back, bodyObj: { partnerClientId: id, action: 'purchase', param1: `k${k}` } }));
      for (let k = 0; k < 200; k += 1) ok(await call('buffer/store', { sub: back, bodyObj: { partnerClientId: id, action: 'purchase', param1: `bulk${k}` } }));
    }
    const data = ok(await call('user/ranking', { sub: back, bodyObj: { partnerClientId: ids[2], n: 1 } }));
    expect(data.ranking).toEqual([
      { rank: 2, partnerClientId: ids[3], points: 150 + 50 * 204 },
      { rank: 3, partnerClientId: ids[2], points: 150 + 50 * 203 },
      { rank: 4, partnerClientId: ids[1], points: 150 + 50 * 202 },
    ]);
    const top = ok(await call('user/ranking', { sub: back, bodyObj: { partnerClientId: ids[4], n: 2 } }));
    expect((top.ranking as Array<{ rank: number }>).map((r) => r.rank)).toEqual([1, 2, 3]);
    business(await call('user/ranking', { sub: back, bodyObj: { partnerClientId: 'ghost', n: 3 } }), 11);
  });

  it('user/multidelete answers per id', async () => {
    const id = newId('u-mdel');
    const sub = await connectUser(call, id);
    const data = ok(await call('user/multidelete', { sub: back, bodyObj: { partnerClientIds: [id, 'ghost'] } }));
    expect(data.results).toEqual([
      { partnerClientId: id, deleted: true },
      { partnerClientId: 'ghost', deleted: false },
    ]);
    expect(sandbox.userPoints(id)).toBeUndefined();
    expect((await call('gift/list', { sub })).json?.errorCode).toBe(3);
  });
});
