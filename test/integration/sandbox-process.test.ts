import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ensureBuilt, ROOT } from '../helpers/build';
import { freePort } from '../helpers/global-setup';
import { callSandbox } from '../helpers/raw-sign';

describe('npm run sandbox (the simulator as its own process)', () => {
  let child: ChildProcess;
  let output = '';
  beforeAll(() => ensureBuilt(), 300_000);
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('prints its URL and credentials, answers signed calls, and stops on SIGTERM', async () => {
    const port = await freePort();
    child = spawn(process.execPath, [join(ROOT, 'dist', 'sandbox', 'main.js')], {
      env: { PATH: process.env.PATH, SANDBOX_PORT: String(port), SANDBOX_PARTNER_ID: 'cli-partner', SANDBOX_PARTNER_SECRET: 'cli-secret-0123456789abcdef' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    const end = Date.now() + 20_000;
    while (!output.includes(`127.0.0.1:${port}`) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(output).toContain(`http://127.0.0.1:${port}/2.0/`);
    expect(output).toContain('cli-partner');

    const ok = await callSandbox(`http://127.0.0.1:${port}/2.0/`, 'partner/getprog', { partnerId: 'cli-partner', secret: 'cli-secret-0123456789abcdef', bodyObj: { lang: 'en' } });
    expect(ok.status).toBe(200);
    expect(ok.json?.errorCode).toBe(0);
    const bad = await callSandbox(`http://127.0.0.1:${port}/2.0/`, 'partner/getprog', { partnerId: 'cli-partner', secret: 'wrong-secret-0123456789abcdef', bodyObj: {} });
    expect(bad.status).toBe(401);
    expect(bad.json?.errorCode).toBe(9);

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
