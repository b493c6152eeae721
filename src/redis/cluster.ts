import calculateSlot from 'cluster-key-slot';
import { createCluster } from 'redis';
import type { RedisConnectionSettings, RedisTopology } from '../config/settings';
import type { RedisConnection, RedisMaster } from './connection';
import { addressOf, nodeOptions, socketOptions, type ClusterClient, type NodeClientTuning } from './node-options';
import { RedisNotConnected, WatchedConnection } from './watched-connection';

/**
 * How long after a node's connection is lost (its first reconnection attempt) node-redis reads the
 * cluster's slot map again, and again as often while it stays lost: the wait of a replica's
 * promotion, not the 5 s of node-redis' default.
 */
const REDISCOVER_AFTER_MS = 500;

/** Commands without a key that a library may send (they go to every master of a cluster). */
const KEYLESS = new Set(['SCRIPT', 'PING', 'ECHO', 'INFO', 'TIME', 'FUNCTION', 'DBSIZE']);
const SCRIPT_CALLS = new Set(['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO']);

/**
 * The key a raw command acts on, for routing: the first key of a script call
 * (`EVALSHA sha 1 key …`), nothing for keyless commands, else the first
 * argument (`GET key`, `DECR key`, `DEL key`).
 *
 * @example
 * keyOfCommand(['EVALSHA', sha, '1', 'miles:rl:ip:x', '60000']) // 'miles:rl:ip:x'
 * keyOfCommand(['SCRIPT', 'LOAD', lua])                         // undefined
 */
export function keyOfCommand(args: readonly string[]): string | undefined {
  const name = (args[0] ?? '').toUpperCase();
  if (SCRIPT_CALLS.has(name)) return Number(args[2]) > 0 ? args[3] : undefined;
  if (KEYLESS.has(name)) return undefined;
  return args[1];
}

/**
 * The keys grouped by cluster slot. The slot is computed by the very function
 * (and version: package.json pins it) node-redis routes a command by, so a
 * group is what node-redis sends to one master.
 *
 * cluster-key-slot 1.1.2 parts from Redis on one shape of key: an empty first
 * tag with a `}` later on (`{}{a}`, `x:{}y}`), which Redis hashes whole. node-redis
 * sends such a key to the wrong master and meets MOVED on every try, so no key
 * may have that shape (cluster-slots.test.ts).
 */
function groupBySlot(keys: readonly string[]): string[][] {
  const groups = new Map<number, string[]>();
  for (const key of keys) {
    const slot = calculateSlot(key);
    const group = groups.get(slot);
    if (group) group.push(key);
    else groups.set(slot, [key]);
  }
  return [...groups.values()];
}

/**
 * `REDIS_MODE=cluster`: node-redis' cluster client (`createCluster`), which
 * sends each command to the master of its first key's slot and follows
 * MOVED/ASK. What this adds:
 * - `bySlot` splits a multi-key deletion so that no command spans slots
 *   (CROSSSLOT); keyless commands (SCRIPT LOAD, PING) go to every master;
 * - a command whose master is not connected fails at once, never queued;
 * - once a master's connection is lost, node-redis reads the slot map again
 *   every REDISCOVER_AFTER_MS while it stays lost
 *   (`topologyRefreshOnReconnectionAttemptStrategy`), until the promoted
 *   replica takes over its slots.
 */
export class ClusterConnection extends WatchedConnection implements RedisConnection {
  readonly mode = 'cluster' as const;
  readonly description: string;
  private cluster: ClusterClient | undefined;

  constructor(
    private readonly settings: RedisConnectionSettings,
    private readonly topology: Extract<RedisTopology, { mode: 'cluster' }>,
    private readonly tuning: NodeClientTuning,
  ) {
    super();
    this.description = `cluster via ${topology.seeds.map(addressOf).join(',')}${settings.tls ? ' (TLS)' : ''}`;
  }

  /** The slot map is known. A shard whose master is down fails its own commands at once (see `send`). */
  get isReady(): boolean {
    const c = this.cluster;
    return c !== undefined && c.isOpen && c.masters.length > 0;
  }

  /** The masters whose connection is ready: a change means a shard came (back) or a new master took over. */
  protected readyKey(): string | undefined {
    if (!this.isReady) return undefined;
    return this.cluster!.masters.filter((m) => m.client?.isReady)
      .map((m) => m.address)
      .sort()
      .join(',');
  }

  private make(): ClusterClient {
    const { settings, topology, tuning } = this;
    // The protocol and command options are the cluster client's own, applied to every node it opens.
    const { RESP, commandOptions, ...perNode } = nodeOptions(settings, tuning);
    const cluster = createCluster({
      rootNodes: topology.seeds.map((e) => ({ socket: socketOptions(settings, { connectTimeout: tuning.socket?.connectTimeout }, e) })),
      defaults: perNode,
      RESP,
      ...(commandOptions ? { commandOptions } : {}),
      topologyRefreshOnReconnectionAttemptStrategy: REDISCOVER_AFTER_MS,
    });
    cluster.on('error', (err: unknown) => this.forwardError(err));
    cluster.on('node-error', (err: unknown) => this.forwardError(err));
    return cluster;
  }

  async send(args: readonly string[], key: string | undefined): Promise<unknown> {
    const c = this.cluster;
    if (!c || !this.isReady) throw new RedisNotConnected('the cluster slot map is not known yet');
    if (key === undefined) {
      const [first] = await Promise.all(this.masters().map((m) => m.send(args)));
      return first;
    }
    const master = c.slots[calculateSlot(key)]?.master;
    if (!master) {
      throw new RedisNotConnected(`no master serves the slot of this key`);
    }
    if (master.client && !master.client.isReady) {
      throw new RedisNotConnected(`no connection to the master ${master.address}`);
    }
    return c.sendCommand(key, false, [...args]);
  }

  sendCommand(args: readonly string[]): Promise<unknown> {
    return this.send(args, keyOfCommand(args));
  }

  masters(): readonly RedisMaster[] {
    const c = this.cluster;
    if (!c) return [];
    return c.masters.map((node) => ({
      address: node.address,
      send: async (args: readonly string[]) => {
        if (node.client && !node.client.isReady) {
          throw new RedisNotConnected(`no connection to the master ${node.address}`);
        }
        return (await c.nodeClient(node)).sendCommand([...args]);
      },
    }));
  }

  bySlot(keys: readonly string[]): string[][] {
    return groupBySlot(keys);
  }

  connect(): Promise<void> {
    return this.connectWithRetries(
      () => {
        const c = this.make();
        // Adopted at once: the slot map is known before every node has connected (a master may be down).
        this.cluster = c;
        this.startWatch();
        return c;
      },
      (c) => c.connect(),
      (c) => {
        if (this.cluster === c) this.cluster = undefined;
        c.destroy();
      },
      () => undefined,
    );
  }

  async close(): Promise<void> {
    const connected = this.cluster?.isOpen === true;
    this.stopConnecting();
    if (connected) await this.cluster?.close();
  }

  destroy(): void {
    this.stopConnecting();
    this.cluster?.destroy();
  }
}
