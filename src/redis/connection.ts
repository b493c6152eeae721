import { EventEmitter } from 'node:events';
import { createClient, createCluster, createSentinel, ErrorReply, type RedisClientType } from 'redis';
import type { RedisConnectionSettings, RedisEndpoint, RedisMode, RedisTopology } from '../config/settings';

/**
 * One connection to Redis, whatever its topology (`REDIS_MODE`), behind the
 * few primitives the key-value store needs. Commands are raw argument lists
 * (`['GET', key]`) routed by their key:
 * - `standalone`: one node-redis client (`createClient`);
 * - `sentinel`: node-redis' sentinel client (`createSentinel`), which asks the
 *   sentinels for the master and follows every failover they announce;
 * - `cluster`: node-redis' cluster client (`createCluster`), which sends each
 *   command to the master of its key's slot.
 *
 * What holds in every mode: no offline queue (a command whose connection is
 * down fails at once, `RedisNotConnected`); reconnection in the background;
 * `isReady` tells whether commands can be sent now; `ready` is emitted each
 * time they can again (the store clears its stall mark on it). Deadlines on
 * answers are the store's business (redis-store.ts).
 *
 * Cluster rules this module keeps: a command goes to the master of its first
 * key's slot; `bySlot` splits a multi-key deletion so that no command spans
 * slots (CROSSSLOT); keyless commands (SCRIPT LOAD, PING) go to every master.
 * node-redis follows MOVED/ASK but does not look for a new master when a
 * master's connection is lost, so after a lost connection or a CLUSTERDOWN
 * the slot map is read again (at most twice a second) until the promoted
 * replica takes over.
 *
 * @example
 * const redis = createRedisConnection(settings.redis.connection, { disableOfflineQueue: true, socket: { connectTimeout: 1000 } });
 * redis.on('error', log);
 * void redis.connect();
 * await redis.send(['SET', key, value, 'PX', '60000'], key);
 */
export interface RedisConnection {
  readonly mode: RedisMode;
  /** Where it points, for logs: addresses only, never credentials. */
  readonly description: string;
  /** Commands can be sent now (sentinel: the master is connected; cluster: the slot map is known). */
  readonly isReady: boolean;
  /** Sends one command to the master serving `key`; keyless, in a cluster: to every master (the first answer is returned). */
  send(args: readonly string[], key: string | undefined): Promise<unknown>;
  /** Sends one command of a library, routed by the key found in its arguments (`keyOfCommand`). */
  sendCommand(args: readonly string[]): Promise<unknown>;
  /** Each master, to walk or ping the whole keyspace: one, or one per cluster shard. */
  masters(): readonly RedisMaster[];
  /** The keys grouped so that one command per group never spans cluster slots (one group outside a cluster). */
  bySlot(keys: readonly string[]): string[][];
  on(event: 'ready', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  /** Connects, retrying in the background until it succeeds or the connection is closed; settles once connected. */
  connect(): Promise<void>;
  /** Waits for pending answers, then closes. */
  close(): Promise<void>;
  /** Drops every socket now. */
  destroy(): void;
}

export interface RedisMaster {
  /** `host:port` */
  readonly address: string;
  send(args: readonly string[]): Promise<unknown>;
}

/** node-redis client options applied to every data node (the sentinels take only the connect timeout). */
export interface NodeClientTuning {
  readonly disableOfflineQueue?: boolean;
  readonly pingInterval?: number;
  readonly commandOptions?: { readonly timeout?: number };
  readonly socket?: {
    readonly connectTimeout?: number;
    readonly socketTimeout?: number;
    readonly reconnectStrategy?: (retries: number, cause: Error) => number | false | Error;
  };
}

/** A command for a node whose connection is down: failed at once, never queued. */
export class RedisNotConnected extends Error {
  readonly code = 'ERR_REDIS_NOT_CONNECTED';
  constructor(message: string) {
    super(message);
    this.name = 'RedisNotConnected';
  }
}

type Sentinel = ReturnType<typeof createSentinel>;
type Cluster = ReturnType<typeof createCluster>;

/** Between two attempts at a first connection that failed as a whole (sentinels or seeds unreachable). */
const CONNECT_RETRY_MS = 2000;
/** How often readiness is looked at to emit `ready` (sentinel and cluster keep it in several clients). */
const READY_WATCH_MS = 100;
/** At most this often the cluster's slot map is read again after a lost connection. */
const REDISCOVER_EVERY_MS = 500;
/** Sentinel: how long the master may stay unreachable before the sentinels are asked again unprompted. */
const SENTINEL_NUDGE_AFTER_MS = 1000;
/**
 * Sentinel: reconnections to one master address before its client gives up,
 * so that node-redis asks the sentinels again rather than wait on an address
 * that may never come back (its reconfiguration waits for that connection).
 */
const SENTINEL_MASTER_RETRIES = 8;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());
const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

// ---- cluster slots ----------------------------------------------------------

const CRC16_TABLE = ((): Uint16Array => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i += 1) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * The cluster slot of a key (CRC16/XMODEM mod 16384 of its hash tag: the part
 * between the first `{` and the next `}` when not empty, else the whole key).
 *
 * @example
 * hashSlot('123456789')              // 12739
 * hashSlot('miles:cache:{getprog}')  // === hashSlot('getprog')
 */
export function hashSlot(key: string): number {
  let hashed = key;
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) hashed = key.slice(open + 1, close);
  }
  let crc = 0;
  // Keys are ASCII in practice: no buffer for them (this runs for every command of a cluster).
  if (isAscii(hashed)) {
    for (let i = 0; i < hashed.length; i += 1) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ hashed.charCodeAt(i)) & 0xff]!;
  } else {
    for (const byte of Buffer.from(hashed, 'utf8')) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  }
  return crc & 16383;
}

/** Commands without a key that a library may send (they go to every master of a cluster). */
const KEYLESS = new Set(['SCRIPT', 'PING', 'ECHO', 'INFO', 'TIME', 'FUNCTION', 'DBSIZE']);
const SCRIPT_CALLS = new Set(['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO']);

/**
 * The key a raw command acts on, for routing: the first key of a script call
 * (`EVALSHA sha 1 key …`), nothing for keyless commands, else the first
 * argument (`GET key`, `DECR key`, `DEL key`).
 */
export function keyOfCommand(args: readonly string[]): string | undefined {
  const name = (args[0] ?? '').toUpperCase();
  if (SCRIPT_CALLS.has(name)) return Number(args[2]) > 0 ? args[3] : undefined;
  if (KEYLESS.has(name)) return undefined;
  return args[1];
}

function groupBySlot(keys: readonly string[]): string[][] {
  const groups = new Map<number, string[]>();
  for (const key of keys) {
    const slot = hashSlot(key);
    const group = groups.get(slot);
    if (group) group.push(key);
    else groups.set(slot, [key]);
  }
  return [...groups.values()];
}

// ---- options ----------------------------------------------------------------

const addressOf = (e: RedisEndpoint): string => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);

/** node-redis socket options: the tuning, TLS and, when given, the address. */
function socketOptions(settings: RedisConnectionSettings, tuning: NodeClientTuning['socket'], endpoint?: RedisEndpoint): Record<string, unknown> {
  return {
    ...tuning,
    ...(endpoint ? { host: endpoint.host, port: endpoint.port } : {}),
    ...(settings.tls ? { tls: true, ...(settings.tls.ca ? { ca: settings.tls.ca } : {}) } : {}),
  };
}

/** Options of every data node client: tuning, credentials, TLS. */
function nodeOptions(settings: RedisConnectionSettings, tuning: NodeClientTuning, endpoint?: RedisEndpoint): Record<string, unknown> {
  return {
    ...(tuning.disableOfflineQueue !== undefined ? { disableOfflineQueue: tuning.disableOfflineQueue } : {}),
    ...(tuning.pingInterval !== undefined ? { pingInterval: tuning.pingInterval } : {}),
    ...(tuning.commandOptions ? { commandOptions: { ...tuning.commandOptions } } : {}),
    ...(settings.username !== undefined ? { username: settings.username } : {}),
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    socket: socketOptions(settings, tuning.socket, endpoint),
  };
}

/**
 * Emits `ready` whenever the connections that carry commands change and are
 * ready: readiness turning true, or a new master (a failover may swap a
 * frozen master for a live one without readiness ever turning false).
 * Sentinel and cluster spread readiness over several clients, hence a watch.
 */
abstract class WatchedConnection extends EventEmitter {
  protected closed = false;
  private watch: NodeJS.Timeout | undefined;
  private lastKey: string | undefined;
  /** Identifies the ready connections carrying commands; undefined when not ready. */
  protected abstract readyKey(): string | undefined;

  protected startWatch(): void {
    if (this.watch) return;
    const look = (): void => {
      const key = this.readyKey();
      if (key !== undefined && key !== this.lastKey) this.emit('ready');
      this.lastKey = key;
      this.watched(key !== undefined);
    };
    look();
    this.watch = setInterval(look, READY_WATCH_MS);
    this.watch.unref();
  }

  /** Called at every look at readiness. */
  protected watched(_ready: boolean): void {
    // nothing by default
  }

  protected stopWatch(): void {
    if (this.watch) clearInterval(this.watch);
    this.watch = undefined;
  }

  /** Errors of node-redis, some of which arrive as text. */
  protected forwardError(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', asError(err));
  }

  /** Builds and connects a client, again and again until it connects or the connection is closed. */
  protected async connectWithRetries<T>(make: () => T, connect: (client: T) => Promise<unknown>, drop: (client: T) => void, adopt: (client: T) => void): Promise<void> {
    while (!this.closed) {
      const client = make();
      // Closed while this attempt is still connecting: `stopConnecting` drops it at once.
      this.dropPending = () => drop(client);
      try {
        await connect(client);
        if (this.closed) return;
        adopt(client);
        this.startWatch();
        return;
      } catch (err) {
        if (this.closed) return;
        drop(client);
        this.forwardError(err);
        await sleep(CONNECT_RETRY_MS);
      } finally {
        this.dropPending = undefined;
      }
    }
  }

  private dropPending: (() => void) | undefined;

  /** Marks the connection closed and drops a first connection still under way. */
  protected stopConnecting(): void {
    this.closed = true;
    this.stopWatch();
    const drop = this.dropPending;
    this.dropPending = undefined;
    drop?.();
  }
}

// ---- standalone -------------------------------------------------------------

class StandaloneConnection extends EventEmitter implements RedisConnection {
  readonly mode = 'standalone' as const;
  readonly description: string;
  private readonly client: RedisClientType;
  private readonly master: RedisMaster;

  constructor(settings: RedisConnectionSettings, topology: Extract<RedisTopology, { mode: 'standalone' }>, tuning: NodeClientTuning) {
    super();
    this.description = `${settings.tls ? 'rediss' : 'redis'}://${addressOf(topology.endpoint)}/${topology.database}`;
    this.client = createClient({ ...nodeOptions(settings, tuning, topology.endpoint), database: topology.database }) as RedisClientType;
    this.client.on('error', (err: unknown) => {
      if (this.listenerCount('error') > 0) this.emit('error', asError(err));
    });
    this.client.on('ready', () => this.emit('ready'));
    this.master = { address: addressOf(topology.endpoint), send: (args) => this.send(args) };
  }

  get isReady(): boolean {
    return this.client.isReady;
  }

  send(args: readonly string[]): Promise<unknown> {
    return this.client.sendCommand([...args]);
  }

  sendCommand(args: readonly string[]): Promise<unknown> {
    return this.client.sendCommand([...args]);
  }

  masters(): readonly RedisMaster[] {
    return [this.master];
  }

  bySlot(keys: readonly string[]): string[][] {
    return keys.length ? [[...keys]] : [];
  }

  async connect(): Promise<void> {
    // node-redis retries a first connection by itself (reconnectStrategy).
    await this.client.connect();
  }

  close(): Promise<void> {
    return this.client.close();
  }

  destroy(): void {
    this.client.destroy();
  }
}

// ---- sentinel ---------------------------------------------------------------

class SentinelConnection extends WatchedConnection implements RedisConnection {
  readonly mode = 'sentinel' as const;
  readonly description: string;
  private sentinel: Sentinel | undefined;
  private readonly master: RedisMaster;

  constructor(
    private readonly settings: RedisConnectionSettings,
    private readonly topology: Extract<RedisTopology, { mode: 'sentinel' }>,
    private readonly tuning: NodeClientTuning,
  ) {
    super();
    this.description = `sentinel ${topology.masterName} via ${topology.sentinels.map(addressOf).join(',')}${settings.tls ? ' (TLS)' : ''}`;
    this.master = { address: topology.masterName, send: (args) => this.send(args) };
  }

  /** Connected to the master the sentinels named (node-redis' own `isReady` stays true through a failover). */
  get isReady(): boolean {
    return this.readyKey() !== undefined;
  }

  protected readyKey(): string | undefined {
    const s = this.sentinel;
    const master = s?.isReady ? s.getMasterNode() : undefined;
    return master ? `${master.host}:${master.port}` : undefined;
  }

  /** Options of a connection to a sentinel: it carries the failover announcements (a subscription), so no heartbeat, no idle watchdog. */
  private sentinelOptions(endpoint?: RedisEndpoint): Record<string, unknown> {
    const { settings, topology, tuning } = this;
    return {
      ...(topology.sentinelPassword !== undefined ? { password: topology.sentinelPassword } : {}),
      socket: socketOptions(settings, { ...(tuning.socket?.connectTimeout !== undefined ? { connectTimeout: tuning.socket.connectTimeout } : {}) }, endpoint),
    };
  }

  /**
   * Before node-redis' sentinel client connects: one sentinel at least answers
   * and names the master. node-redis retries a failing first connection by
   * itself but prints every failure on the console (stack traces amid the
   * JSON log lines); a service started while its sentinels are unreachable
   * waits here instead, quietly, logging through the `error` event.
   */
  private async someSentinelNamesMaster(): Promise<void> {
    const { topology } = this;
    for (const endpoint of topology.sentinels) {
      const client = createClient({ ...this.sentinelOptions(endpoint), socket: { ...(this.sentinelOptions(endpoint).socket as object), reconnectStrategy: false } });
      client.on('error', () => undefined);
      try {
        await client.connect();
        if (Array.isArray(await client.sendCommand(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', topology.masterName]))) return;
      } catch {
        // the next sentinel
      } finally {
        if (client.isOpen) client.destroy();
      }
    }
    throw new RedisNotConnected(`no sentinel of ${topology.sentinels.map(addressOf).join(',')} answers with a master named ${topology.masterName}`);
  }

  private make(): Sentinel {
    const { settings, topology, tuning } = this;
    const sentinel = createSentinel({
      name: topology.masterName,
      sentinelRootNodes: topology.sentinels.map((e) => ({ host: e.host, port: e.port })),
      nodeClientOptions: nodeOptions(settings, { ...tuning, socket: { ...tuning.socket, reconnectStrategy: this.masterReconnects() } }),
      sentinelClientOptions: this.sentinelOptions(),
      masterPoolSize: 1,
      passthroughClientErrorEvents: true,
    } as Parameters<typeof createSentinel>[0]);
    sentinel.on('error', (err: unknown) => this.forwardError(err));
    return sentinel;
  }

  private masterReconnects(): NonNullable<NodeClientTuning['socket']>['reconnectStrategy'] {
    const base = this.tuning.socket?.reconnectStrategy;
    return (retries, cause) => {
      if (retries >= SENTINEL_MASTER_RETRIES) return new Error(`the master stayed unreachable after ${retries} attempts; asking the sentinels again`, { cause });
      return base ? base(retries, cause) : Math.min(50 * 2 ** retries, 2000);
    };
  }

  private notReadySince: number | undefined;
  private nudging = false;

  /**
   * node-redis looks for a new master when the sentinels announce one, or when
   * a command meets a lost master connection. Commands are not sent while the
   * master is unreachable (they fail at once instead), so should the
   * announcement be missed (the subscribed sentinel gone at that moment), one
   * PING a second long after the loss makes node-redis ask the sentinels.
   */
  protected override watched(ready: boolean): void {
    const s = this.sentinel;
    if (ready || !s || this.closed) {
      this.notReadySince = undefined;
      return;
    }
    this.notReadySince ??= Date.now();
    if (this.nudging || Date.now() - this.notReadySince < SENTINEL_NUDGE_AFTER_MS) return;
    this.nudging = true;
    s.sendCommand(false, ['PING'])
      .catch(() => undefined)
      .finally(() => {
        this.nudging = false;
      });
  }

  async send(args: readonly string[]): Promise<unknown> {
    const s = this.sentinel;
    if (!s || !this.isReady) throw new RedisNotConnected(`no connection to the master of ${this.topology.masterName}`);
    return s.sendCommand(false, [...args]);
  }

  sendCommand(args: readonly string[]): Promise<unknown> {
    return this.send(args);
  }

  masters(): readonly RedisMaster[] {
    return [this.master];
  }

  bySlot(keys: readonly string[]): string[][] {
    return keys.length ? [[...keys]] : [];
  }

  connect(): Promise<void> {
    return this.connectWithRetries(
      () => this.make(),
      async (s) => {
        await this.someSentinelNamesMaster();
        if (!this.closed) await s.connect();
      },
      (s) => void s.destroy().catch(() => undefined),
      (s) => {
        this.sentinel = s;
      },
    );
  }

  async close(): Promise<void> {
    this.stopConnecting();
    await this.sentinel?.close();
  }

  destroy(): void {
    this.stopConnecting();
    void this.sentinel?.destroy().catch(() => undefined);
  }
}

// ---- cluster ----------------------------------------------------------------

class ClusterConnection extends WatchedConnection implements RedisConnection {
  readonly mode = 'cluster' as const;
  readonly description: string;
  private cluster: Cluster | undefined;
  private lastRediscovery = 0;
  private rediscovering = false;

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

  private make(): Cluster {
    const { settings, topology, tuning } = this;
    const { commandOptions, ...perNode } = nodeOptions(settings, tuning);
    const cluster = createCluster({
      rootNodes: topology.seeds.map((e) => ({ socket: socketOptions(settings, { connectTimeout: tuning.socket?.connectTimeout }, e) })),
      defaults: perNode,
      ...(commandOptions ? { commandOptions } : {}),
    } as Parameters<typeof createCluster>[0]);
    cluster.on('error', (err: unknown) => this.forwardError(err));
    cluster.on('node-error', (err: unknown) => {
      this.forwardError(err);
      this.rediscoverSoon();
    });
    cluster.on('node-reconnecting', () => this.rediscoverSoon());
    return cluster;
  }

  /**
   * Reads the slot map again (node-redis does on MOVED, not when a master is
   * lost): once a replica has taken over, its slots' commands go to it.
   */
  private rediscoverSoon(): void {
    const c = this.cluster;
    const now = Date.now();
    if (!c || this.closed || this.rediscovering || now - this.lastRediscovery < REDISCOVER_EVERY_MS) return;
    this.lastRediscovery = now;
    const start = c.masters.find((m) => m.client?.isReady)?.client ?? c.masters[0]?.client;
    if (!start) return;
    this.rediscovering = true;
    c._slots
      .rediscover(start)
      .catch((err: unknown) => this.forwardError(err))
      .finally(() => {
        this.rediscovering = false;
      });
  }

  async send(args: readonly string[], key: string | undefined): Promise<unknown> {
    const c = this.cluster;
    if (!c || !this.isReady) throw new RedisNotConnected('the cluster slot map is not known yet');
    if (key === undefined) {
      const [first] = await Promise.all(this.masters().map((m) => m.send(args)));
      return first;
    }
    const master = c.slots[hashSlot(key)]?.master;
    if (!master) {
      this.rediscoverSoon();
      throw new RedisNotConnected(`no master serves the slot of this key`);
    }
    if (master.client && !master.client.isReady) {
      this.rediscoverSoon();
      throw new RedisNotConnected(`no connection to the master ${master.address}`);
    }
    try {
      return await c.sendCommand(key, false, [...args]);
    } catch (err) {
      if (!(err instanceof ErrorReply) || /^(CLUSTERDOWN|TRYAGAIN)/.test(err.message)) this.rediscoverSoon();
      throw err;
    }
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
          this.rediscoverSoon();
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

/**
 * The connection for `settings.topology.mode`; nothing is connected until
 * `connect()`. `tuning` (offline queue, heartbeat, timeouts, reconnection) is
 * applied to every data node.
 */
export function createRedisConnection(settings: RedisConnectionSettings, tuning: NodeClientTuning): RedisConnection {
  const topology = settings.topology;
  switch (topology.mode) {
    case 'standalone':
      return new StandaloneConnection(settings, topology, tuning);
    case 'sentinel':
      return new SentinelConnection(settings, topology, tuning);
    case 'cluster':
      return new ClusterConnection(settings, topology, tuning);
  }
}

/** `connection` when given, else the settings of a plain `redis://` / `rediss://` URL (tests and tools that have only a URL). */
export function connectionSettingsOf(options: { readonly connection?: RedisConnectionSettings; readonly url?: string }): RedisConnectionSettings {
  if (options.connection) return options.connection;
  if (!options.url) throw new Error('Redis: neither connection settings nor a URL');
  return connectionSettingsOfUrl(options.url);
}

function connectionSettingsOfUrl(url: string): RedisConnectionSettings {
  const u = new URL(url);
  return {
    topology: {
      mode: 'standalone',
      endpoint: { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port ? Number(u.port) : 6379 },
      database: Number(u.pathname.replace(/^\//, '') || 0),
    },
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:' ? { ca: undefined } : undefined,
  };
}
