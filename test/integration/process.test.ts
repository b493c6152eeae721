import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from '../helpers/global-setup';
import { ensureBuilt } from '../helpers/build';
import { uniquePrefix, dropPrefix } from '../helpers/redis';
import { startTestSandbox } from '../helpers/service';
import type { Sandbox } from '../../src/sandbox';
import { SERVER, serviceProcessEnv } from '../helpers/service-process';

function baseEnv(): NodeJS.ProcessEnv {
  const { PATH, HOME } = process.env;
  return { PATH, HOME };
}

async function waitFor(url: string, status: number, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).status === status) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`${url} never answered ${status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the service process', () => {
  beforeAll(() => ensureBuilt(), 300_000);

  it('refuses an unsafe production start-up with one line per problem, naming the setting', () => {
    const run = spawnSync(process.execPath, [SERVER], { env: { ...baseEnv(), NODE_ENV: 'production', IDENTITY_MODE: 'insecure-body', SESSION_SECRET: 'short' }, encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n');
    for (const name of ['APM_BASE_URL', 'REDIS_URL', 'IDENTITY_MODE', 'SESSION_SECRET']) {
      expect(lines.some((l) => l.includes(`refused to start: ${name}`))).toBe(true);
    }
    expect(run.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  describe('on SIGTERM', () => {
    let sandbox: Sandbox;
    let child: ChildProcess;
    let port: number;
    let internalPort: number;
    const prefix = uniquePrefix('proc');
    const output: string[] = [];
    beforeAll(async () => {
      sandbox = await startTestSandbox();
      port = await freePort();
      internalPort = await freePort();
      child = spawn(process.execPath, [SERVER], {
        env: serviceProcessEnv(sandbox, prefix, { port, internalPort }, {
          SHUTDOWN_TIMEOUT_MS: '10000',
          // What a platform may inject beside our settings: a name in our namespace that is not ours.
          REDIS_TLS_URL: 'rediss://platform-redis.example.com:6380',
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      await waitFor(`http://127.0.0.1:${internalPort}/readyz`, 200);
    });

    it('starts beside a foreign name in its namespace (a platform\'s REDIS_TLS_URL), with one warning naming it', () => {
      const warnings = output.join('').split('\n').filter((l) => l.includes('REDIS_TLS_URL'));
      expect(warnings).toHaveLength(1);
      expect(JSON.parse(warnings[0]!)).toMatchObject({ level: expect.anything(), setting: 'REDIS_TLS_URL', msg: expect.stringContaining('not a setting of this service') });
      expect(output.join('')).not.toContain('platform-redis.example.com');
    });
    afterAll(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await sandbox.close();
      await dropPrefix(prefix);
    });

    it('turns /readyz 503, lets in-flight requests complete, and exits 0', async () => {
      sandbox.injectFault({ path: 'partner/getprog', kind: 'delay', ms: 1500, times: 1 });
      const inFlight = fetch(`http://127.0.0.1:${port}/api/partner/getprog`);
      await new Promise((r) => setTimeout(r, 300));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      const ready = await fetch(`http://127.0.0.1:${internalPort}/readyz`).then((r) => r.status, () => 'closed');
      expect([503, 'closed']).toContain(ready);
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect((await res.json()).errorCode).toBe(0);
      expect(await exited).toBe(0);
    });
  });
});
