import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePort } from './global-setup';
import { REDIS_SERVER, requireTool } from './tools';

/**
 * A `redis-server` of the test's own, on a free port, that the test may stop,
 * freeze and restart (the shared test Redis must never be touched that way).
 *
 * @example
 * const redis = await startRedisServer({ persist: true });
 * const svc = await startTestService({ env: { REDIS_URL: redis.url } });
 * await redis.stop();   // outage
 * await redis.start();  // same port, same data (persist)
 * await redis.close();
 */
export interface PrivateRedis {
  /** `redis://127.0.0.1:<port>`, the same across restarts. */
  readonly url: string;
  readonly port: number;
  /** Whether a server process is running (frozen counts as running). */
  readonly running: boolean;
  /** Starts the server again on the same port (and data directory); resolves once it answers PING. */
  start(): Promise<void>;
  /** Stops the server and waits until the process is gone. SIGKILL is a crash; SIGTERM a clean shutdown. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** SIGSTOP: the port stays open and connections stay up, but nothing answers (a stalled Redis). */
  freeze(): void;
  /** SIGCONT after `freeze`. */
  thaw(): void;
  /** Stops the server for good and removes its data directory. */
  close(): Promise<void>;
}

export interface PrivateRedisOptions {
  /**
   * Keep the data across `stop`/`start` (append-only file, fsync on every
   * write), as a production Redis with persistence or a replica would. Off:
   * a restart comes back empty.
   */
  readonly persist?: boolean;
  /** More `redis-server` options, e.g. `['--maxmemory-policy', 'allkeys-lru']`. */
  readonly args?: readonly string[];
}

async function answersPing(url: string): Promise<boolean> {
  const client = createClient({ url, socket: { connectTimeout: 500, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

export async function startRedisServer(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  requireTool(REDIS_SERVER);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'miles-bff-private-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const persistence = options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''] : ['--appendonly', 'no', '--save', ''];
  let child: ChildProcess | undefined;
  let frozen = false;

  async function start(): Promise<void> {
    if (child && child.exitCode === null && child.signalCode === null) throw new Error('redis-server is already running');
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...persistence, ...(options.args ?? [])], { stdio: 'ignore' });
    child = proc;
    frozen = false;
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`redis-server on port ${port} exited at start (code ${String(code)})`))));
    exited.catch(() => undefined);
    for (let i = 0; i < 100; i += 1) {
      if (await Promise.race([answersPing(url), exited])) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server on port ${port} never answered PING`);
  }

  async function stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGKILL'): Promise<void> {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // A frozen process only acts on SIGTERM once it runs again.
    if (frozen && signal === 'SIGTERM') proc.kill('SIGCONT');
    proc.kill(signal);
    frozen = false;
    await gone;
  }

  await start();
  return {
    url,
    port,
    get running() {
      return Boolean(child && child.exitCode === null && child.signalCode === null);
    },
    start,
    stop,
    freeze() {
      if (!child || frozen) return;
      child.kill('SIGSTOP');
      frozen = true;
    },
    thaw() {
      if (!child || !frozen) return;
      child.kill('SIGCONT');
      frozen = false;
    },
    async close() {
      await stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
