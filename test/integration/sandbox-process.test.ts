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

  /** Starts `dist/sandbox/main.js` with `env`; resolves with the child and its output once it listens or exits. */
  async function startProcess(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> {
    let text = '';
    const proc = spawn(process.execPath, [join(ROOT, 'dist', 'sandbox', 'main.js')], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (c: Buffer) => (text += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (text += c.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const end = Date.now() + 20_000;
    while (!text.includes('readings:') && proc.exitCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    return { child: proc, output: () => text, exited };
  }

  it('is as strict as its SANDBOX_* readings say, and prints them', async () => {
    const port = await freePort();
    const credentials = { partnerId: 'strict-partner', secret: 'strict-secret-0123456789abcdef' };
    const started = await startProcess({
      SANDBOX_PORT: String(port),
      SANDBOX_PARTNER_ID: credentials.partnerId,
      SANDBOX_PARTNER_SECRET: credentials.secret,
      SANDBOX_JSON_ENCODING: 'standard',
      SANDBOX_SIGNED_HEADERS_FORMAT: 'list',
      SANDBOX_EMPTY_BODY: '[]',
      SANDBOX_SIGNATURE_HEADER: 'X-Apm-Signature',
      SANDBOX_REENCODE_CHECK: 'false',
    });
    child = started.child;
    try {
      expect(started.output()).toContain('readings: JSON encoding standard, data_header list, empty body [], signature in X-Apm-Signature, data_body compared byte for byte');
      const url = `http://127.0.0.1:${port}/2.0/`;
      const headers = { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Request-Id': 'strict-1' };
      const list = JSON.stringify(Object.entries(headers).map(([n, v]) => `${n}: ${v}`));
      const dialect = { ...credentials, encoding: 'standard' as const, headers, dataHeaderText: list, signatureHeader: 'X-Apm-Signature' };
      const lang = { lang: 'fr/é' };
      expect((await callSandbox(url, 'partner/getprog', { ...dialect, bodyObj: lang })).json?.errorCode).toBe(0);
      expect((await callSandbox(url, 'partner/getprog', { ...dialect, bodyText: '[]' })).json?.errorCode).toBe(0);
      // One reading off at a time: each is refused as a signature mismatch.
      expect((await callSandbox(url, 'partner/getprog', { ...dialect, bodyObj: lang, encoding: 'php', dataHeaderText: list.replace(/\//g, '\\/') })).json?.errorCode).toBe(9);
      expect((await callSandbox(url, 'partner/getprog', { ...dialect, bodyObj: lang, dataHeaderText: JSON.stringify(headers) })).json?.errorCode).toBe(9);
      expect((await callSandbox(url, 'partner/getprog', { ...dialect, bodyText: '{}' })).json?.errorCode).toBe(9);
      expect((await callSandbox(url, 'partner/getprog', { ...dialect, bodyObj: lang, signatureHeader: 'Authorization' })).json?.errorCode).toBe(9);
    } finally {
      child.kill('SIGTERM');
      await started.exited;
    }
  });

  it('refuses to start on a bad SANDBOX_* value, naming the setting', async () => {
    const started = await startProcess({ SANDBOX_PORT: '0', SANDBOX_EMPTY_BODY: 'null', SANDBOX_JSON_ENCODNG: 'php' });
    child = started.child;
    expect(await started.exited).toBe(1);
    expect(started.output()).toContain('sandbox: refused to start: SANDBOX_EMPTY_BODY: must be one of any, {}, [] (got "null").');
    expect(started.output()).toContain('sandbox: refused to start: SANDBOX_JSON_ENCODNG: unknown setting.');
  });
});
