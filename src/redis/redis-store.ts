import type { RedisConnectionSettings } from '../config/settings';
import { SessionStoreUnavailable } from '../errors';
import type { Logger } from '../observability/logger';
import { connectionSettingsOf, createRedisConnection } from './connection';
import type { KeyValueStore, SetOptions } from './key-value-store';

export interface RedisStoreOptions {
  /** Where Redis is (`settings.redis.connection`: standalone, sentinel or cluster)… */
  readonly connection?: RedisConnectionSettings;
  /** …or a plain `redis://` URL (standalone). */
  readonly url?: string;
  readonly commandTimeoutMs: number;
  readonly logger: Logger;
}

export interface RedisKeyValueStore extends KeyValueStore {
  readonly kind: 'redis';
  /**
   * One raw command, for libraries that speak Redis themselves (rate limits): routed by its key
   * (cluster), failing fast and within the deadline like the store's own commands.
   */
  sendCommand(args: readonly string[]): Promise<unknown>;
  /** Whether the connection is up and answering (readiness). */
  isReady(): boolean;
}

const DELETE_IF_EQUALS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const REPLACE_IF_EQUALS = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 else return 0 end`;
/** SADD and its lifetime at once, on one key (one cluster slot); answers the set's size. */
const SET_ADD_WITH_TTL = `redis.call('SADD', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[1], ARGV[2]) return redis.call('SCARD', KEYS[1])`;

/** Heartbeat of an idle connection; keeps it busier than the watchdog below allows it to be idle. */
const PING_INTERVAL_MS = 1000;

/**
 * Connects to Redis so that an outage fails fast instead of queueing or
 * hanging:
 * - Redis down (connection refused or closed): the offline queue is off, so a
 *   command fails at once; reconnection goes on in the background with a
 *   capped back-off, and the service recovers by itself.
 * - Redis stalled (the connection is up but nothing answers: a frozen
 *   process, a black-holed network): node-redis' own command timeout only
 *   covers commands still waiting to be written, never one already sent, so
 *   every command here races its own deadline (`REDIS_COMMAND_TIMEOUT_MS`).
 *   The first one missed marks the connection stalled: from then on commands
 *   fail at once instead of piling up behind the unanswered one, until a late
 *   answer arrives or a new connection is ready. Nothing is written while
 *   stalled, so the socket turns idle and the watchdog (`socketTimeout`)
 *   drops it and reconnects; a healthy idle connection never turns idle
 *   thanks to the PING heartbeat.
 * - `sendCommand` (for libraries that speak Redis themselves, such as the
 *   rate limits) follows the same rules.
 * - Sentinel and cluster (`REDIS_MODE`, connection.ts): the same rules per
 *   connection; during a failover the master's connection is down, so
 *   commands fail at once (503) until the promoted replica answers. In a
 *   cluster every command touches keys of one slot: a deletion of several
 *   keys is sent slot by slot, a purge walks every master.
 */
export async function createRedisStore(options: RedisStoreOptions): Promise<RedisKeyValueStore> {
  const { logger } = options;
  const timeoutMs = options.commandTimeoutMs;
  const raw = createRedisConnection(connectionSettingsOf(options), {
    disableOfflineQueue: true,
    pingInterval: PING_INTERVAL_MS,
    // No node-redis command timeout: it costs an AbortSignal.timeout per command (a timer, a WeakRef
    // and, once it fires, a DOMException) and only covers commands not yet written. The deadline
    // below covers every command, written or not.
    socket: {
      connectTimeout: Math.max(timeoutMs, 1000),
      socketTimeout: Math.max(5000, 3 * timeoutMs),
      // Reconnect whatever the cause (node-redis' default gives up after a socket timeout).
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2000),
    },
  });
  let lastErrorLog = 0;
  raw.on('error', (err: Error) => {
    // A down Redis raises an error per reconnect attempt; one line a few seconds is enough.
    const now = Date.now();
    if (now - lastErrorLog > 5000) {
      lastErrorLog = now;
      logger.error({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'redis connection error');
    }
  });

  /** A command went unanswered past its deadline on the current connection. */
  let stalled = false;
  const answering = (): void => {
    if (!stalled) return;
    stalled = false;
    logger.info('redis answers again');
  };
  raw.on('ready', () => {
    answering();
    logger.info({ redis: raw.description }, 'redis connection ready');
  });
  const ready = (): boolean => raw.isReady && !stalled;

  /**
   * Commands in flight with their deadlines, checked by one timer a few times per deadline rather
   * than a timer per command (a timer and a closure per command showed in the hot path's profile).
   * A command may therefore fail up to a quarter of the deadline late.
   */
  interface InFlight {
    readonly what: string;
    readonly deadline: number;
    readonly pending: Promise<unknown>;
    readonly reject: (err: Error) => void;
  }
  const inFlight = new Set<InFlight>();
  const sweep = setInterval(
    () => {
      if (inFlight.size === 0) return;
      const now = Date.now();
      for (const command of inFlight) {
        if (command.deadline > now) break; // in order of deadline: one timeout for all
        inFlight.delete(command);
        if (!stalled) {
          stalled = true;
          logger.error({ command: command.what, timeoutMs }, 'redis did not answer in time: failing fast until it answers again');
        }
        // A late answer proves Redis alive again; a late failure is already accounted for.
        command.pending.then(answering, () => undefined);
        command.reject(new SessionStoreUnavailable(`Redis did not answer within ${timeoutMs} ms (${command.what})`));
      }
    },
    Math.max(5, Math.floor(timeoutMs / 4)),
  );
  sweep.unref();

  function withDeadline<T>(what: string, pending: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const command: InFlight = { what, deadline: Date.now() + timeoutMs, pending, reject };
      inFlight.add(command);
      pending.then(
        (value) => {
          if (inFlight.delete(command)) resolve(value);
        },
        (cause: unknown) => {
          if (inFlight.delete(command)) reject(cause);
        },
      );
    });
  }

  async function run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (!ready()) throw new SessionStoreUnavailable(`Redis is not ${raw.isReady ? 'answering' : 'connected'} (${what})`);
    try {
      return await withDeadline(what, fn());
    } catch (cause) {
      if (cause instanceof SessionStoreUnavailable) throw cause;
      throw new SessionStoreUnavailable(`Redis command failed (${what})`, { cause });
    }
  }


  // connect() only settles once Redis answers; with a Redis down at start it would
  // hold start-up forever. Start anyway: readiness stays false and requests that
  // need Redis get 503 until it answers.
  const connecting = raw.connect().catch((cause: unknown) => {
    logger.error({ err: { message: (cause as Error).message } }, 'redis connection failed');
  });
  const settled = await Promise.race([
    connecting.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), Math.max(timeoutMs, 1000)).unref()),
  ]);
  if (!settled) logger.error('redis not reachable at start; will keep retrying in the background');

  return {
    kind: 'redis',
    sendCommand: (args) => run(String(args[0] ?? 'command').toLowerCase(), () => raw.sendCommand(args)),
    isReady: ready,
    get: (key) => run('get', async () => (await raw.send(['GET', key], key)) as string | null),
    async set(key: string, value: string, opts: SetOptions) {
      const px = String(Math.max(1, Math.round(opts.ttlMs)));
      const reply = await run('set', () => raw.send(['SET', key, value, 'PX', px, ...(opts.ifAbsent ? ['NX'] : [])], key));
      return reply === 'OK';
    },
    del: (keys) =>
      keys.length === 0
        ? Promise.resolve(0)
        : run('del', async () => {
            // One DEL per cluster slot (a DEL across slots is refused: CROSSSLOT); one in all elsewhere.
            let deleted = 0;
            for (const group of raw.bySlot(keys)) deleted += Number(await raw.send(['DEL', ...group], group[0]));
            return deleted;
          }),
    async expire(key, ttlSeconds) {
      await run('expire', () => raw.send(['EXPIRE', key, String(ttlSeconds)], key));
    },
    async deleteIfEquals(key, expected) {
      const n = await run('eval', () => raw.send(['EVAL', DELETE_IF_EQUALS, '1', key, expected], key));
      return n === 1;
    },
    async replaceIfEquals(key, expected, value, ttlMs) {
      const n = await run('eval', () => raw.send(['EVAL', REPLACE_IF_EQUALS, '1', key, expected, value, String(Math.max(1, Math.round(ttlMs)))], key));
      return n === 1;
    },
    async setAdd(key, member, ttlMs) {
      return Number(await run('sadd', () => raw.send(['EVAL', SET_ADD_WITH_TTL, '1', key, member, String(Math.max(1, Math.round(ttlMs)))], key)));
    },
    setMembers: (key) => run('smembers', async () => (await raw.send(['SMEMBERS', key], key)) as string[]),
    async setRemove(key, members) {
      if (members.length) await run('srem', () => raw.send(['SREM', key, ...members], key));
    },
    async deleteByPrefix(prefix) {
      // SCAN walks the keyspace in steps (never blocks Redis like KEYS); glob characters of the prefix are escaped.
      // Each step has its own deadline: a large keyspace may take long, a stalled Redis may not.
      // In a cluster every master holds part of the keyspace: each is walked in turn.
      const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
      let deleted = 0;
      for (const master of raw.masters()) {
        let cursor = '0';
        do {
          const [next, keys] = (await run('scan', () => master.send(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '500']))) as [string, string[]];
          cursor = String(next);
          for (const group of raw.bySlot(keys)) deleted += Number(await run('unlink', () => raw.send(['UNLINK', ...group], group[0])));
        } while (cursor !== '0');
      }
      return deleted;
    },
    async ping() {
      // Every master: readiness means the whole keyspace answers.
      await run('ping', () => Promise.all(raw.masters().map((m) => m.send(['PING']))));
    },
    async close() {
      clearInterval(sweep);
      // close() waits for every pending answer: only on a connection that answers, and not forever.
      if (ready()) {
        const closed = await Promise.race([raw.close().then(() => true, () => false), new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref())]);
        if (closed) return;
      }
      try {
        raw.destroy();
      } catch {
        // already closed
      }
    },
  };
}
