import { freePort } from '../helpers/global-setup';
import { ApiClient } from '../helpers/http';
import { startLocalCluster, type LocalCluster } from '../helpers/redis-topologies';
import { startTestService, type TestService } from '../helpers/service';
import { storeRefusalOf } from '../helpers/store-refusal';
import {
  describeServiceOn,
  expectFailoverAnswers,
  sessionIdOf,
  startFailoverLoad,
  startReplicas,
  waitConnected,
  type Replicas,
  type TopologyUnderTest,
} from '../helpers/topology-checks';

/**
 * The service on a real Redis Cluster: 3 masters with one replica each,
 * started from redis-server on loopback ports (redis-cli --cluster create).
 * Every check of a standalone Redis (topology-checks.ts), the key layout
 * (hash tags, no CROSSSLOT; the slot rules themselves: cluster-slots.test.ts),
 * keys spread over the shards, and a master change:
 * a master is killed, its replica takes over, the service answers 503 with
 * Retry-After meanwhile and comes back by itself with the sessions intact.
 */
describe('REDIS_MODE=cluster on a local Redis Cluster (3 masters, 1 replica each)', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 1 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  const topology = (): TopologyUnderTest => ({
    env: { REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: cluster.nodesSetting },
    keys: (pattern) => cluster.keys(pattern),
  });

  it('starts while its cluster nodes are unreachable: not ready, 503 with Retry-After at once, the reason logged, a clean stop', async () => {
    const port = await freePort();
    const svc = await startTestService({ redis: false, env: { REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: `127.0.0.1:${port}` } });
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

  describeServiceOn('cluster', topology);

  describe('sharding', () => {
    let replicas: Replicas;
    beforeAll(async () => {
      replicas = await startReplicas(topology());
    }, 60_000);
    afterAll(async () => {
      await replicas?.close();
    });

    it('spreads the sessions over the masters, and each user index sits where its hash tag says', async () => {
      const { a, prefix } = replicas;
      for (let i = 0; i < 16; i += 1) expect((await new ApiClient(a.url).connect(`topo-spread-${i}`)).status).toBe(200);
      const keys = await cluster.keys(`${prefix}*`);
      const sessionMasters = new Set(keys.filter((k) => k.key.startsWith(`${prefix}sess:`)).map((k) => k.master));
      expect(sessionMasters.size).toBeGreaterThanOrEqual(2);
      for (const { key, master } of keys) expect([key, master]).toEqual([key, await cluster.masterOf(key)]);
    });

    it('also takes a seed node as REDIS_URL (a managed service\'s configuration endpoint)', async () => {
      let svc: TestService | undefined;
      try {
        svc = await startTestService({ redis: false, env: { REDIS_MODE: 'cluster', REDIS_URL: `redis://${cluster.nodes[1]!.address}` } });
        const api = new ApiClient(svc.url);
        expect((await api.connect('topo-seed-url')).status).toBe(200);
        expect((await api.get('/api/session')).json.connected).toBe(true);
      } finally {
        await svc?.close();
      }
    });
  });

  describe('a master change', () => {
    let replicas: Replicas;
    beforeAll(async () => {
      // Requests and connects go on in a loop during the failover: the per-IP limits must not be what refuses them.
      replicas = await startReplicas(topology(), { RATE_LIMIT_CONNECT_MAX: '100000', RATE_LIMIT_IP_MAX: '1000000' });
    }, 60_000);
    afterAll(async () => {
      await replicas?.close();
    });

    it('answers 503 with Retry-After within 2 s while the replica takes over, then recovers by itself with the sessions intact', async () => {
      const { a, prefix } = replicas;
      const users: ApiClient[] = [];
      for (let i = 0; i < 12; i += 1) {
        const api = new ApiClient(a.url);
        expect((await api.connect(`topo-change-${i}`)).status).toBe(200);
        users.push(api);
      }
      // The master to kill: the one holding the first session; the users whose sessions it holds are the victims.
      const masterOf = async (api: ApiClient): Promise<string> => cluster.masterOf(`${prefix}sess:${sessionIdOf(api)}`);
      const doomed = await masterOf(users[0]!);
      const owners = await Promise.all(users.map(masterOf));
      const victims = users.filter((_, i) => owners[i] === doomed);
      const bystanders = users.filter((_, i) => owners[i] !== doomed);
      // Replication is asynchronous: the sessions above reach the replica before the crash.
      await cluster.waitReplicated();

      const load = startFailoverLoad(a.url, [...victims, ...bystanders.slice(0, 2)], 'topo-change');
      await new Promise((r) => setTimeout(r, 200));
      const killedAt = Date.now();
      await cluster.nodes.find((n) => n.address === doomed)!.kill();
      try {
        // Each replica reconnects on its own: every victim, on either, must be answered again.
        await Promise.all(victims.map((u) => waitConnected(u, killedAt, 15_000)));
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        await load.stop();
      }

      expectFailoverAnswers(load.samples);
      // The window was real: some request needing the lost shard was refused meanwhile.
      expect(load.samples.some((s) => s.status === 503)).toBe(true);
      for (const api of users) expect((await api.get('/api/session')).json.connected).toBe(true);
      // A connect reported as done after the crash began is a session that exists.
      const saved = load.samples.filter((s) => s.what === 'connect' && s.status === 200 && s.startedAt >= killedAt);
      for (const s of saved) expect((await s.api!.get('/api/session')).json.connected).toBe(true);
      expect((await fetch(`${a.internalUrl}/readyz`)).status).toBe(200);
      expect(await cluster.masters()).not.toContain(doomed);
    }, 60_000);
  });
});
