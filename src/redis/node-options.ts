import type { RedisClientOptions, RedisClientType, RedisClusterOptions, RedisClusterType, RedisSentinelType } from 'redis';
import type { RedisConnectionSettings, RedisEndpoint } from '../config/settings';

/** node-redis client options applied to every data node (the sentinels take only the connect timeout). */
export interface NodeClientTuning {
  readonly disableOfflineQueue?: boolean;
  readonly pingInterval?: number;
  readonly commandOptions?: { readonly timeout?: number };
  readonly socket?: {
    readonly connectTimeout?: number | undefined;
    readonly socketTimeout?: number;
    readonly reconnectStrategy?: (retries: number, cause: Error) => number | false | Error;
  };
}

/**
 * The protocol every connection speaks. node-redis 6 defaults to RESP3; the stores read replies as
 * RESP2 shapes (a hash as a flat array, no maps or doubles), and what a script returns must not
 * change with the client's version.
 */
export const RESP_VERSION = 2;

/** node-redis' default for modules, functions, scripts and type mapping: none of them is used. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the very type node-redis' factories default to
type None = {};

/** The clients each topology holds, as node-redis' factories return them for these options. */
export type NodeClient = RedisClientType<None, None, None, typeof RESP_VERSION, None>;
export type ClusterClient = RedisClusterType<None, None, None, typeof RESP_VERSION, None>;
export type SentinelClient = RedisSentinelType<None, None, None, typeof RESP_VERSION, None>;

/** node-redis' TCP socket options, plain or TLS: the one transport `REDIS_URL` describes. */
export type TcpSocketOptions = NonNullable<RedisClusterOptions['rootNodes'][number]['socket']>;

/** node-redis' options of a data node client, as every topology's factory takes them. */
export type NodeOptions = Pick<RedisClientOptions<None, None, None, typeof RESP_VERSION>, 'disableOfflineQueue' | 'pingInterval' | 'commandOptions' | 'username' | 'password' | 'RESP'> & {
  readonly socket: TcpSocketOptions;
};

/** `host:port`, IPv6 hosts bracketed: for logs and descriptions, never with credentials. */
export const addressOf = (e: RedisEndpoint): string => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);

/** node-redis socket options: the tuning, TLS and, when given, the address. */
export function socketOptions(settings: RedisConnectionSettings, tuning: NodeClientTuning['socket'], endpoint?: RedisEndpoint): TcpSocketOptions {
  const common = {
    ...(tuning?.connectTimeout !== undefined ? { connectTimeout: tuning.connectTimeout } : {}),
    ...(tuning?.socketTimeout !== undefined ? { socketTimeout: tuning.socketTimeout } : {}),
    ...(tuning?.reconnectStrategy !== undefined ? { reconnectStrategy: tuning.reconnectStrategy } : {}),
    ...(endpoint ? { host: endpoint.host, port: endpoint.port } : {}),
  };
  if (!settings.tls) return common;
  return { ...common, tls: true, ...(settings.tls.ca ? { ca: settings.tls.ca } : {}) };
}

/** Options of every data node client: protocol, tuning, credentials, TLS. */
export function nodeOptions(settings: RedisConnectionSettings, tuning: NodeClientTuning, endpoint?: RedisEndpoint): NodeOptions {
  return {
    RESP: RESP_VERSION,
    ...(tuning.disableOfflineQueue !== undefined ? { disableOfflineQueue: tuning.disableOfflineQueue } : {}),
    ...(tuning.pingInterval !== undefined ? { pingInterval: tuning.pingInterval } : {}),
    ...(tuning.commandOptions ? { commandOptions: { ...tuning.commandOptions } } : {}),
    ...(settings.username !== undefined ? { username: settings.username } : {}),
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    socket: socketOptions(settings, tuning.socket, endpoint),
  };
}
