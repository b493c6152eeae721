import { freePort } from '../helpers/global-setup';
import { ApiClient } from '../helpers/http';
import { startTestService } from '../helpers/service';
import { storeRefusalOf } from '../helpers/store-refusal';
import { startLocalSentinels, type LocalSentinels } from '../helpers/redis-topologies';
import { describeServiceOn, expectFailoverAnswers, startFailoverLoad, startReplicas, waitConnected, type Replicas, type TopologyUnderTest } from '../helpers/topology-checks';

/**
 * The service on Redis Sentinel: a master, its replica and 3 sentinels
 * (quorum 2), started from redis-server on loopback ports. Every check of a
 * standalone Redis (topology-checks.ts), then a failover: the master is
 * killed, the sentinels promote the replica, the service answers 503 with
 * Retry-After meanwhile (never a hang), and answers again by itself within
 * 15 s with the sessions written before the failover.
 */
describe('REDIS_MODE=sentinel on a local master, replica and 3 sentinels', () => {
  let sentinels: LocalSentinels;
  beforeAll(async () => {
    sentinels = await startLocalSentinels();
  }, 60_000);
  afterAll(async () => {
    await sentinels?.stop();
  });

  const topology = (): TopologyUnderTest => ({
    env: { REDIS_MODE: 'sentinel', REDIS_SENTINELS: sentinels.sentinelsSetting, REDIS_SENTINEL_NAME: sentinels.masterName },
    keys: async (pattern) => {
      const master = await sentinels.currentMaster();
      return (await sentinels.keys(pattern)).map((key) => ({ key, master }));
    },
  });

  it('starts while its sentinels are unreachable: not ready, 503 with Retry-After at once, the reason logged, a clean stop', async () => {
    const port = await freePort();
    const svc = await startTestService({ redis: false, env: { REDIS_MODE: 'sentinel', REDIS_SENTINELS: `127.0.0.1:${port}` } });
    try {
      expect((await fetch(`${svc.internalUrl}/readyz`)).status).toBe(503);
      const res = await new ApiClient(svc.url).connect('topo-unreachable');
      expect([res.status, res.headers.get('retry-after')]).toEqual([503, '2']);
      // At once: refused because the store is known to be away, not after waiting on it.
      expect(storeRefusalOf(res.json.detail)).toEqual({ kind: 'at-once' });
      expect(svc.logs.some((l) => l.includes('redis not reachable at start'))).toBe(true);
    } finally {
      await svc.close();
    }
  });

  describeServiceOn('sentinel', topology);

  describe('a failover', () => {
    let replicas: Replicas;
    beforeAll(async () => {
      // Requests and connects go on in a loop during the failover: the per-IP limits must not be what refuses them.
      replicas = await startReplicas(topology(), { RATE_LIMIT_CONNECT_MAX: '100000', RATE_LIMIT_IP_MAX: '1000000' });
    }, 60_000);
    afterAll(async () => {
      await replicas?.close();
    });

    it('kill the master: 503 with Retry-After within 2 s meanwhile, answers again within 15 s, sessions written before survive', async () => {
      const { a, b } = replicas;
      const users: ApiClient[] = [];
      for (let i = 0; i < 8; i += 1) {
        const api = new ApiClient(i % 2 ? a.url : b.url);
        expect((await api.connect(`topo-failover-${i}`, { email: `f${i}@example.com` })).status).toBe(200);
        users.push(api);
      }
      // Replication is asynchronous: the sessions above reach the replica before the crash.
      await sentinels.waitReplicated();
      const oldMaster = await sentinels.currentMaster();

      const load = startFailoverLoad(a.url, users.slice(0, 4), 'topo-failover');
      await new Promise((r) => setTimeout(r, 200));
      const killedAt = Date.now();
      await sentinels.dataNodes.find((n) => n.address === oldMaster)!.kill();
      try {
        // Each replica reconnects on its own: every user, on either, must be answered again.
        await Promise.all(users.map((u) => waitConnected(u, killedAt, 15_000)));
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        await load.stop();
      }

      expect(await sentinels.waitPromotedFrom(oldMaster, 10_000)).not.toBe(oldMaster);
      expectFailoverAnswers(load.samples);
      // The window was real: requests needing Redis were refused meanwhile.
      expect(load.samples.some((s) => s.status === 503)).toBe(true);
      for (const [i, api] of users.entries()) {
        expect((await api.get('/api/session')).json).toMatchObject({ connected: true, user: { email: `f${i}@example.com` } });
        expect((await api.get('/api/gift/list')).status).toBe(200);
      }
      // A connect reported as done after the crash began is a session that exists.
      const saved = load.samples.filter((s) => s.what === 'connect' && s.status === 200 && s.startedAt >= killedAt);
      for (const s of saved) expect((await s.api!.get('/api/session')).json.connected).toBe(true);
      for (const svc of [a, b]) expect((await fetch(`${svc.internalUrl}/readyz`)).status).toBe(200);
      // And the new master takes new sessions, on both replicas.
      for (const svc of [a, b]) expect((await new ApiClient(svc.url).connect('topo-after-failover')).status).toBe(200);
    }, 60_000);
  });
});
