import type { RedisConnectionSettings, RedisMode } from '../config/settings';
import { ClusterConnection } from './cluster';
import type { NodeClientTuning } from './node-options';
import { SentinelConnection } from './sentinel';
import { StandaloneConnection } from './standalone';

/**
 * One connection to Redis, whatever its topology (`REDIS_MODE`), behind the
 * few primitives the key-value store needs. Commands are raw argument lists
 * (`['GET', key]`) routed by their key. Each topology is a file of its own:
 * `standalone.ts`, `sentinel.ts`, `cluster.ts` (slots, routing, rediscovery);
 * `watched-connection.ts` holds what sentinel and cluster share, and
 * `node-options.ts` the node-redis options all three build.
 *
 * What holds in every mode: no offline queue (a command whose connection is
 * down fails at once, `RedisNotConnected`); reconnection in the background;
 * `isReady` tells whether commands can be sent now; `ready` is emitted each
 * time they can again (the store clears its stall mark on it). Deadlines on
 * answers are the store's business (redis-store.ts).
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
  /** Sends one command of a library, routed by the key found in its arguments (cluster.ts, `keyOfCommand`). */
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
