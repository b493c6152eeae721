import { createClient, type RedisClientType } from 'redis';
import { SessionStoreUnavailable } from '../errors';
import type { Logger } from '../observability/logger';
import type { KeyValueStore, SetOptions } from './key-value-store';

export interface RedisStoreOptions {
  readonly url: string;
  readonly commandTimeoutMs: number;
  readonly logger: Logger;
}

export interface RedisKeyValueStore extends KeyValueStore {
  readonly kind: 'redis';
  /** The raw client, for libraries that speak Redis themselves (rate limits, sessions). */
  readonly client: RedisClientType;
  /** Whether the connection is currently up (readiness). */
  isReady(): boolean;
}

const DELETE_IF_EQUALS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * Connects to Redis so that an outage fails fast instead of queueing: the
 * offline queue is off (a command while disconnected fails at once), every
 * command has a timeout, and reconnection goes on in the background with a
 * capped back-off so the service recovers by itself.
 */
export async function createRedisStore(options: RedisStoreOptions): Promise<RedisKeyValueStore> {
  const { logger } = options;
  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    pingInterval: 5000,
    commandOptions: { timeout: options.commandTimeoutMs },
    socket: {
      connectTimeout: Math.max(options.commandTimeoutMs, 1000),
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2000),
    },
  }) as RedisClientType;
  let lastErrorLog = 0;
  client.on('error', (err: Error) => {
    // A down Redis raises an error per reconnect attempt; one line a few seconds is enough.
    const now = Date.now();
    if (now - lastErrorLog > 5000) {
      lastErrorLog = now;
      logger.error({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'redis connection error');
    }
  });
  client.on('ready', () => logger.info('redis connection ready'));

  // connect() only settles once Redis answers; with a Redis down at start it would
  // hold start-up forever. Start anyway: readiness stays false and requests that
  // need Redis get 503 until it answers.
  const connecting = client.connect().catch((cause: unknown) => {
    logger.error({ err: { message: (cause as Error).message } }, 'redis connection failed');
  });
  const settled = await Promise.race([
    connecting.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), Math.max(options.commandTimeoutMs, 1000)).unref()),
  ]);
  if (!settled) logger.error('redis not reachable at start; will keep retrying in the background');

  async function run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (!client.isReady) throw new SessionStoreUnavailable(`Redis is not connected (${what})`);
    try {
      return await fn();
    } catch (cause) {
      throw new SessionStoreUnavailable(`Redis command failed (${what})`, { cause });
    }
  }

  return {
    kind: 'redis',
    client,
    isReady: () => client.isReady,
    get: (key) => run('get', () => client.get(key)),
    async set(key: string, value: string, opts: SetOptions) {
      const reply = await run('set', () =>
        client.set(key, value, { expiration: { type: 'PX', value: Math.max(1, Math.round(opts.ttlMs)) }, ...(opts.ifAbsent ? { condition: 'NX' as const } : {}) }),
      );
      return reply === 'OK';
    },
    del: (keys) => (keys.length === 0 ? Promise.resolve(0) : run('del', () => client.del([...keys]))),
    async expire(key, ttlSeconds) {
      await run('expire', () => client.expire(key, ttlSeconds));
    },
    async deleteIfEquals(key, expected) {
      const n = await run('eval', () => client.eval(DELETE_IF_EQUALS, { keys: [key], arguments: [expected] }));
      return n === 1;
    },
    async setAdd(key, member, ttlMs) {
      await run('sadd', () => client.multi().sAdd(key, member).pExpire(key, Math.round(ttlMs)).exec());
    },
    setMembers: (key) => run('smembers', () => client.sMembers(key)),
    async setRemove(key, members) {
      if (members.length) await run('srem', () => client.sRem(key, [...members]));
    },
    deleteByPrefix(prefix) {
      // SCAN walks the keyspace in steps (never blocks Redis like KEYS); glob characters of the prefix are escaped.
      const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
      return run('scan', async () => {
        let deleted = 0;
        for await (const batch of client.scanIterator({ MATCH: pattern, COUNT: 500 })) {
          if (batch.length) deleted += await client.unlink(batch);
        }
        return deleted;
      });
    },
    async ping() {
      await run('ping', () => client.ping());
    },
    async close() {
      if (client.isReady) await client.close().catch(() => client.destroy());
      else if (client.isOpen) client.destroy();
    },
  };
}
