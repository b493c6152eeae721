import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { requireImageNodeMajor } from './node-version';

/**
 * Finds the Redis the tests run against: REDIS_URL when set, else the local
 * one on 127.0.0.1:6379, else a private `redis-server` on a free port. Tests
 * read the answer from TEST_REDIS_URL and keep to their own key prefix.
 */
async function answers(url: string): Promise<boolean> {
  const client = createClient({ url, socket: { connectTimeout: 1000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const pong = await client.ping();
    return pong === 'PONG';
  } catch {
    return false;
  } finally {
    if (client.isOpen) await client.close().catch(() => undefined);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export default async function globalSetup(): Promise<void> {
  requireImageNodeMajor();
  const candidates = [process.env.REDIS_URL, 'redis://127.0.0.1:6379'].filter((u): u is string => Boolean(u));
  for (const url of candidates) {
    if (await answers(url)) {
      process.env.TEST_REDIS_URL = url;
      return;
    }
  }
  const which = spawnSync('sh', ['-c', 'command -v redis-server']);
  if (which.status !== 0) {
    throw new Error(
      'Tests need a Redis: set REDIS_URL, run one on 127.0.0.1:6379, or install redis-server (apt-get install redis-server) so the tests can start their own.',
    );
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'miles-bff-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i += 1) {
    if (await answers(url)) {
      process.env.TEST_REDIS_URL = url;
      process.env.TEST_REDIS_PID = String(child.pid);
      (globalThis as { __testRedis?: typeof child }).__testRedis = child;
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`Started redis-server on port ${port} but it never answered PING.`);
}
