import type { Settings } from '../config/settings';
import { createRedisConnection, type RedisConnection } from '../redis/connection';
import type { CheckResult } from './report';

/** Round trips measured per master. */
const PINGS = 5;

/** Policies that never evict a key that has no expiry, nor pick live sessions at random. */
function policyKeepsSessions(policy: string): boolean {
  return policy === 'noeviction' || policy.startsWith('volatile-');
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

interface MasterFigures {
  readonly address: string;
  readonly rttMs: number;
  readonly policy: string | undefined;
  readonly policyError: string | undefined;
}

/**
 * Redis as the service would reach it (`REDIS_MODE`, credentials, TLS and CA from the same
 * settings, the same connection module): connected within the deadline, the PING round trip of
 * each master, and its `maxmemory-policy` read from `INFO memory` (managed services often
 * refuse CONFIG). Reads only: nothing is written.
 */
export async function checkRedis(settings: Settings, deadlineMs: number): Promise<CheckResult> {
  const { connection, mode, commandTimeoutMs } = settings.redis;
  if (!connection) {
    return {
      name: 'redis',
      status: settings.production ? 'fail' : 'warn',
      summary: 'no Redis configured: in-process stores (lost on restart, not shared by replicas)',
      fix: 'set REDIS_URL (or REDIS_MODE with REDIS_SENTINELS or REDIS_CLUSTER_NODES) before going live',
    };
  }
  const tls = connection.tls ? `TLS on${connection.tls.ca ? ' (CA from REDIS_TLS_CA_FILE)' : ''}` : 'TLS off';
  const redis: RedisConnection = createRedisConnection(connection, {
    disableOfflineQueue: true,
    socket: { connectTimeout: Math.min(deadlineMs, Math.max(commandTimeoutMs, 1000)), reconnectStrategy: () => false },
  });
  let lastError: Error | undefined;
  redis.on('error', (err) => {
    lastError = err;
  });
  try {
    try {
      await withDeadline(redis.connect(), deadlineMs, 'connecting');
    } catch (err) {
      const cause = lastError ?? (err instanceof Error ? err : new Error(String(err)));
      // node-redis does not always carry the socket's code over; its message does.
      const message = cause.message.replace(/^Error: /, '');
      const code = (cause as NodeJS.ErrnoException).code ?? /\b(E[A-Z]{3,}|ERR_[A-Z_]+)\b/.exec(message)?.[1];
      return {
        name: 'redis',
        status: 'fail',
        summary: `cannot connect to ${redis.description} (${mode}, ${tls}): ${code && !message.startsWith(code) ? `${code}: ` : ''}${message}`,
        fix: `check that Redis runs and this machine may reach it; the REDIS_* settings (mode, address, REDIS_USERNAME/REDIS_PASSWORD, REDIS_TLS and REDIS_TLS_CA_FILE) are read exactly as the service reads them`,
        data: { mode, tls: Boolean(connection.tls), code },
      };
    }
    const figures: MasterFigures[] = [];
    for (const master of redis.masters()) {
      const rtts: number[] = [];
      for (let i = 0; i < PINGS; i += 1) {
        const started = process.hrtime.bigint();
        await withDeadline(master.send(['PING']), commandTimeoutMs, 'PING');
        rtts.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      let policy: string | undefined;
      let policyError: string | undefined;
      try {
        const info = String(await withDeadline(master.send(['INFO', 'memory']), commandTimeoutMs, 'INFO memory'));
        policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
        if (!policy) policyError = 'INFO memory names no maxmemory_policy';
      } catch (err) {
        policyError = err instanceof Error ? err.message : String(err);
      }
      figures.push({ address: master.address, rttMs: round(median(rtts)), policy, policyError });
    }
    const rtt = Math.max(...figures.map((f) => f.rttMs));
    const policies = [...new Set(figures.map((f) => f.policy ?? '?'))].join(', ');
    const data = { mode, tls: Boolean(connection.tls), masters: figures };
    const summary = `${mode} ${redis.description}, ${tls}, PING ${rtt} ms (median of ${PINGS}${figures.length > 1 ? `, slowest of ${figures.length} masters` : ''}), maxmemory-policy ${policies}`;
    if (rtt >= commandTimeoutMs / 2) {
      return { name: 'redis', status: 'fail', summary, fix: `a round trip of ${rtt} ms leaves no room within REDIS_COMMAND_TIMEOUT_MS (${commandTimeoutMs} ms): put Redis nearer, or raise the timeout`, data };
    }
    const evicting = figures.filter((f) => f.policy !== undefined && !policyKeepsSessions(f.policy));
    if (evicting.length > 0) {
      return { name: 'redis', status: 'warn', summary, fix: `maxmemory-policy ${evicting[0]!.policy} evicts keys without an expiry and live sessions when memory runs out: use noeviction (or a volatile-* policy)`, data };
    }
    const unread = figures.find((f) => f.policy === undefined);
    if (unread) {
      return { name: 'redis', status: 'warn', summary, fix: `maxmemory-policy could not be read (${unread.policyError}): check that it is noeviction or a volatile-* policy`, data };
    }
    return { name: 'redis', status: 'pass', summary, data };
  } finally {
    // node-redis throws when destroying a client that never connected; there is nothing to drop then.
    if (redis.isReady) redis.destroy();
    else await redis.close().catch(() => undefined);
  }
}
