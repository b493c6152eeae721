/** SESSION_MAX_PER_USER: one identity cannot fill the session store; a connect beyond it ends the oldest. */
import { createClient } from 'redis';
import { ApiClient } from '../helpers/http';
import { testRedisUrl } from '../helpers/redis';
import { startReplicaPair, type ReplicaPair } from '../helpers/service';

async function sessionRecords(prefix: string): Promise<number> {
  const client = createClient({ url: testRedisUrl() });
  await client.connect();
  try {
    let n = 0;
    for await (const batch of client.scanIterator({ MATCH: `${prefix}sess:*`, COUNT: 500 })) n += batch.length;
    return n;
  } finally {
    await client.close();
  }
}

async function connected(api: ApiClient): Promise<boolean> {
  const res = await api.get('/api/session');
  expect(res.status).toBe(200);
  return res.json.connected as boolean;
}

describe('sessions per user (SESSION_MAX_PER_USER=5), two replicas', () => {
  let pair: ReplicaPair;
  beforeAll(async () => {
    pair = await startReplicaPair({ env: { SESSION_MAX_PER_USER: '5', RATE_LIMIT_CONNECT_MAX: '1000' }, label: 'cap' });
  });
  afterAll(async () => {
    await pair.close();
  });

  it('ends the oldest sessions, cookie and token alike, and keeps the newest', async () => {
    const clients: ApiClient[] = [];
    for (let i = 0; i < 8; i += 1) {
      const api = new ApiClient(i % 2 ? pair.a.url : pair.b.url);
      const mobile = i % 3 === 0;
      const res = await api.connect('cap-sequential', {}, mobile ? { headers: { 'X-Session-Transport': 'token' } } : {});
      expect(res.status).toBe(200);
      if (mobile) api.bearer = res.json.session.token as string;
      clients.push(api);
    }
    const states = await Promise.all(clients.map(connected));
    expect(states).toEqual([false, false, false, true, true, true, true, true]);
    // An ended session is refused by the routes that need one, on either replica.
    expect((await clients[0]!.get('/api/partner/initialcheckstore')).status).toBe(401);
    expect((await clients[7]!.get('/api/partner/initialcheckstore')).status).toBe(200);
  });

  it('25 concurrent connects of one user leave at most 5 live sessions, never none', async () => {
    const clients = Array.from({ length: 25 }, (_, i) => new ApiClient(i % 2 ? pair.a.url : pair.b.url));
    const answers = await Promise.all(clients.map((api) => api.connect('cap-concurrent')));
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
    // Trims that overlap may each end one that the other kept: never more than the cap, never none.
    const live = (await Promise.all(clients.map(connected))).filter(Boolean).length;
    expect(live).toBeGreaterThanOrEqual(1);
    expect(live).toBeLessThanOrEqual(5);
    // One more connect, alone: the cap is reached again exactly, with the newest kept.
    const last = new ApiClient(pair.a.url);
    expect((await last.connect('cap-concurrent')).status).toBe(200);
    expect(await connected(last)).toBe(true);
    expect((await Promise.all(clients.map(connected))).filter(Boolean).length).toBe(Math.min(live, 4));
    clients.push(last);
    // Logout everywhere still finds every live one.
    const survivor = clients[(await Promise.all(clients.map(connected))).indexOf(true)]!;
    expect((await survivor.post('/api/user/logout', {})).status).toBe(200);
    expect((await Promise.all(clients.map(connected))).filter(Boolean)).toEqual([]);
  });

  it('leaves other users alone and stores no more records than the cap allows', async () => {
    const other = new ApiClient(pair.a.url);
    expect((await other.connect('cap-other')).status).toBe(200);
    for (let i = 0; i < 7; i += 1) expect((await new ApiClient(pair.b.url).connect('cap-third')).status).toBe(200);
    expect(await connected(other)).toBe(true);
    // cap-sequential: 5; cap-concurrent: 0 after the logout; cap-other: 1; cap-third: 5.
    expect(await sessionRecords(pair.prefix)).toBe(11);
  });
});
