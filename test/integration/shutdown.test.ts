import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { Sandbox } from '../../src/sandbox';
import { ensureBuilt } from '../helpers/build';
import { freePort } from '../helpers/global-setup';
import { ApiClient } from '../helpers/http';
import { dropPrefix, uniquePrefix } from '../helpers/redis';
import { startTestSandbox } from '../helpers/service';
import { SERVER, serviceProcessEnv } from '../helpers/service-process';

/**
 * SIGTERM on the real process (dist/server.js): readiness turns 503, every
 * request in flight completes, every answer from then on carries
 * `Connection: close`, a request arriving during the drain is refused (503
 * with Retry-After, or no connection at all), no request is reset, and the
 * process exits 0, at the latest when the grace period (SHUTDOWN_TIMEOUT_MS)
 * ends.
 */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A deadline for a race: its timer never holds the test run open. */
const deadline = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

interface Child {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly internalUrl: string;
  readonly port: number;
  readonly exited: Promise<number | null>;
  readonly output: () => string;
}

async function startChild(sandbox: Sandbox, prefix: string, env: Record<string, string>): Promise<Child> {
  const port = await freePort();
  const internalPort = await freePort();
  const proc = spawn(process.execPath, [SERVER], {
    env: serviceProcessEnv(sandbox, prefix, { port, internalPort }, { LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const internalUrl = `http://127.0.0.1:${internalPort}`;
  for (let i = 0; ; i += 1) {
    const status = await fetch(`${internalUrl}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    if (i > 200 || proc.exitCode !== null) throw new Error(`the service never became ready:\n${output}`);
    await sleep(100);
  }
  return { proc, url: `http://127.0.0.1:${port}`, internalUrl, port, exited, output: () => output };
}

/** Raw HTTP/1.1 on one connection, to send a request while another is in flight on it. */
function rawConnection(port: number): { send(request: string): void; responses(count: number): Promise<string[]>; received(): string; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    send: (request) => socket.write(request),
    received: () => data,
    async responses(count) {
      for (let i = 0; i < 400; i += 1) {
        const heads = data.split(/(?=HTTP\/1\.1 \d{3} )/).filter((p) => p.startsWith('HTTP/1.1'));
        const complete = heads.filter((h) => {
          const length = /\r\ncontent-length: (\d+)/i.exec(h);
          const bodyAt = h.indexOf('\r\n\r\n');
          return length && bodyAt >= 0 && h.length - bodyAt - 4 >= Number(length[1]);
        });
        if (complete.length >= count) return complete;
        await sleep(25);
      }
      throw new Error(`fewer than ${count} answers on the connection:\n${data}`);
    },
    closed,
  };
}

function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)![1]);
}

describe('graceful shutdown on SIGTERM', () => {
  let sandbox: Sandbox;
  const prefixes: string[] = [];
  const children: Child[] = [];
  beforeAll(async () => {
    ensureBuilt();
    sandbox = await startTestSandbox();
  }, 300_000);
  afterEach(() => sandbox.clearFaults());
  afterAll(async () => {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await sandbox.close();
    for (const p of prefixes) await dropPrefix(p);
  });

  async function child(env: Record<string, string>): Promise<Child> {
    const prefix = uniquePrefix('shutdown');
    prefixes.push(prefix);
    const c = await startChild(sandbox, prefix, env);
    children.push(c);
    return c;
  }

  it('completes every request in flight, refuses one arriving during the drain, turns /readyz 503, and exits 0', async () => {
    const svc = await child({ SHUTDOWN_TIMEOUT_MS: '15000' });
    const api = new ApiClient(svc.url);
    expect((await api.connect('shutdown-1')).status).toBe(200);
    const points = sandbox.userPoints('shutdown-1')!;

    // Five requests that take a while upstream: reads, the program, and a mutation.
    for (const path of ['gift/list', 'user/historyearns', 'generosity/store', 'partner/getprog']) {
      sandbox.injectFault({ path, kind: 'delay', ms: 2500, times: path === 'gift/list' ? 2 : 1 });
    }
    const inFlight = [
      api.get('/api/gift/list'),
      api.get('/api/gift/list'),
      api.get('/api/user/historyearns'),
      api.post('/api/generosity/store', { action: 'review' }),
      api.get('/api/partner/getprog?lang=en'),
    ];
    // A sixth, on a connection of its own that the test keeps: the late request goes on it.
    sandbox.injectFault({ path: 'user/historyburns', kind: 'delay', ms: 2500, times: 1 });
    const conn = rawConnection(svc.port);
    const cookie = [...api.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    conn.send(`GET /api/user/historyburns HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\n\r\n`);
    // Enough for every request to reach the upstream (each waits 2.5 s there).
    await sleep(1000);

    svc.proc.kill('SIGTERM');
    await sleep(200);
    const ready = await fetch(`${svc.internalUrl}/readyz`).then(
      (r) => r.status,
      () => 'closed',
    );
    expect([503, 'closed']).toContain(ready);
    // A request arriving during the drain, on a connection still busy.
    conn.send(`GET /api/gift/list HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\n\r\n`);
    // A new connection is not accepted any more.
    const fresh = await fetch(`${svc.url}/api/partner/getprog`).then(
      (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after') }),
      (err: { cause?: { code?: string } }) => ({ status: err.cause?.code ?? 'error', retryAfter: null }),
    );
    expect(fresh.status === 'ECONNREFUSED' || (fresh.status === 503 && Number(fresh.retryAfter) > 0)).toBe(true);

    const answers = await Promise.all(inFlight);
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.json.errorCode).toBe(0);
    }
    expect(sandbox.userPoints('shutdown-1')).toBe(points + 20);
    // The answer in flight on that connection says it closes, and it does, right after: the
    // request sent behind it was not handled, which `Connection: close` tells the client (it sends
    // it again on a new connection, RFC 9112 §9.6), rather than a reset.
    const [first] = await conn.responses(1);
    expect(statusOf(first!)).toBe(200);
    expect(first).toMatch(/\r\nconnection: close\r\n/i);
    await conn.closed;
    expect(conn.received().match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(1);
    expect(await svc.exited).toBe(0);
    expect(svc.output()).toMatch(/draining/);
    expect(svc.output()).toMatch(/"msg":"stopped"/);
  });

  it('under keep-alive load: every answer after SIGTERM says Connection: close, no request is reset, every one is answered', async () => {
    const svc = await child({ SHUTDOWN_TIMEOUT_MS: '15000', RATE_LIMIT_ENABLED: 'false' });
    const api = new ApiClient(svc.url);
    expect((await api.connect('shutdown-keepalive')).status).toBe(200);
    const cookie = [...api.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    // Ten connections kept alive, each sending its next request as soon as the last is answered.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
    interface Outcome {
      readonly sentAt: number;
      readonly status?: number;
      readonly connection?: string;
      readonly retryAfter?: string;
      readonly error?: string;
    }
    const outcomes: Outcome[] = [];
    let sigtermAt = Number.POSITIVE_INFINITY;
    let stop = false;
    const one = (i: number): Promise<Outcome> =>
      new Promise((resolve) => {
        const sentAt = Date.now();
        const post = i % 3 === 0;
        const req = http.request(
          `${svc.url}${post ? '/api/generosity/store' : '/api/gift/list'}`,
          { agent, method: post ? 'POST' : 'GET', headers: { Cookie: cookie, ...(post ? { 'Content-Type': 'application/json', 'X-CSRF': '1' } : {}) } },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ sentAt, status: res.statusCode!, connection: String(res.headers.connection), retryAfter: String(res.headers['retry-after']) }));
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => resolve({ sentAt, error: err.code ?? err.message }));
        req.end(post ? JSON.stringify({ action: 'purchase', param1: `keepalive-${i}` }) : undefined);
      });
    let seq = 0;
    // The service's own retry rule: after a 503, wait Retry-After; a refused connection means this
    // replica is gone (a real client would be routed to another one).
    const loops = Array.from({ length: 10 }, async () => {
      while (!stop) {
        const outcome = await one((seq += 1));
        outcomes.push(outcome);
        if (outcome.error === 'ECONNREFUSED') return;
        if (outcome.status === 503) await sleep(1000 * Number(outcome.retryAfter ?? 1));
      }
    });
    await sleep(1500);
    sigtermAt = Date.now();
    svc.proc.kill('SIGTERM');
    expect(await svc.exited).toBe(0);
    stop = true;
    await Promise.all(loops);
    agent.destroy();

    const resets = outcomes.filter((o) => o.error !== undefined && o.error !== 'ECONNREFUSED');
    expect(resets).toEqual([]);
    const answeredAfter = outcomes.filter((o) => o.status !== undefined && o.sentAt >= sigtermAt);
    for (const o of answeredAfter) {
      expect([200, 409, 503]).toContain(o.status);
      expect(o.connection).toBe('close');
    }
    expect(outcomes.filter((o) => o.status === 200).length).toBeGreaterThan(20);
  }, 60_000);

  it('exits 0 when the grace period ends, even while a request is still waiting on the upstream', async () => {
    const svc = await child({ SHUTDOWN_TIMEOUT_MS: '1500', APM_TIMEOUT_MS: '60000' });
    sandbox.injectFault({ path: 'partner/getprog', kind: 'delay', ms: 30_000, times: 1 });
    const stuck = fetch(`${svc.url}/api/partner/getprog?lang=fr`).then(
      (r) => `answered ${r.status}`,
      () => 'connection closed',
    );
    await sleep(500);
    svc.proc.kill('SIGTERM');
    // The process is gone long before the upstream (30 s) would have answered.
    const first = await Promise.race([svc.exited.then((code) => `exited ${String(code)}`), deadline(20_000).then(() => 'still running')]);
    expect(first).toBe('exited 0');
    expect(await stuck).toBe('connection closed');
  }, 30_000);

  it('exits 0 at once when idle, keep-alive connections included', async () => {
    const svc = await child({ SHUTDOWN_TIMEOUT_MS: '20000' });
    const api = new ApiClient(svc.url);
    for (let i = 0; i < 3; i += 1) expect((await api.get('/api/partner/getprog')).status).toBe(200);
    svc.proc.kill('SIGTERM');
    // Idle keep-alive sockets must not hold the exit until the grace period (20 s) ends.
    const first = await Promise.race([svc.exited.then((code) => `exited ${String(code)}`), deadline(10_000).then(() => 'still running')]);
    expect(first).toBe('exited 0');
  }, 30_000);
});
