import type { RedisConnectionSettings, RedisEndpoint } from '../config/settings';

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

/** node-redis' options, typed loosely: each topology's factory (createClient, createSentinel, createCluster) takes its own shape of them. */
export type ClientOptions = Record<string, unknown>;

/** `host:port`, IPv6 hosts bracketed: for logs and descriptions, never with credentials. */
export const addressOf = (e: RedisEndpoint): string => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);

/** node-redis socket options: the tuning, TLS and, when given, the address. */
export function socketOptions(settings: RedisConnectionSettings, tuning: NodeClientTuning['socket'], endpoint?: RedisEndpoint): ClientOptions {
  return {
    ...tuning,
    ...(endpoint ? { host: endpoint.host, port: endpoint.port } : {}),
    ...(settings.tls ? { tls: true, ...(settings.tls.ca ? { ca: settings.tls.ca } : {}) } : {}),
  };
}

/** Options of every data node client: tuning, credentials, TLS. */
export function nodeOptions(settings: RedisConnectionSettings, tuning: NodeClientTuning, endpoint?: RedisEndpoint): ClientOptions {
  return {
    ...(tuning.disableOfflineQueue !== undefined ? { disableOfflineQueue: tuning.disableOfflineQueue } : {}),
    ...(tuning.pingInterval !== undefined ? { pingInterval: tuning.pingInterval } : {}),
    ...(tuning.commandOptions ? { commandOptions: { ...tuning.commandOptions } } : {}),
    ...(settings.username !== undefined ? { username: settings.username } : {}),
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    socket: socketOptions(settings, tuning.socket, endpoint),
  };
}
