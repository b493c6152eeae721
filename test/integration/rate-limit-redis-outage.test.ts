import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePort } from '../helpers/global-setup';
import { ApiClient } from '../helpers/http';
import { startTestService, type TestService } from '../helpers/service';
import { REDIS_SERVER, requireTool } from '../helpers/tools';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A Redis of this test's own, which it stops and starts again. */
async function startRedis(port: number): Promise<ChildProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'miles-bff-outage-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  for (let i = 0; i < 100; i += 1) {
    const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      await client.close();
      return child;
    } catch {
      await sleep(50);
    }
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not start');
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('rate limits and cache through a Redis outage', () => {
  let redis: ChildProcess;
  let port: number;
  let svc: TestService;
  beforeAll(async () => {
    requireTool(REDIS_SERVER);
    port = await freePort();
    redis = await startRedis(port);
    svc = await startTestService({ env: { REDIS_URL: `redis://127.0.0.1:${port}`, RATE_LIMIT_IP_MAX: '3', RATE_LIMIT_WINDOW_SECONDS: '60' } });
  });
  afterAll(async () => {
    await svc.close();
    await stopRedis(redis);
  });

  it('limits, fails open while Redis is down, and limits again when it is back', async () => {
    const api = new ApiClient(svc.url);
    for (let i = 0; i < 3; i += 1) expect((await api.get('/api/partner/getprog')).status).toBe(200);
    expect((await api.get('/api/partner/getprog')).status).toBe(429);

    await stopRedis(redis);
    // Down: every request passes (limit open, cache aside), none fails or hangs.
    for (let i = 0; i < 5; i += 1) {
      const res = await api.get('/api/partner/getprog');
      expect(res.status).toBe(200);
      expect(res.json.errorCode).toBe(0);
    }

    // Back (empty): the counts start again and the limit trips again.
    redis = await startRedis(port);
    let statuses: number[] = [];
    for (let attempt = 0; attempt < 100 && !statuses.includes(429); attempt += 1) {
      statuses = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await api.get('/api/partner/getprog')).status);
      if (!statuses.includes(429)) await sleep(100);
    }
    expect(statuses).toContain(429);
  });
});
