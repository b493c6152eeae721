#!/usr/bin/env node
'use strict';
/* global fetch, AbortSignal, setTimeout, clearTimeout */
/**
 * `npm run chaos`: the built service (`node dist/server.js`) as two replicas on one private Redis,
 * the sandbox simulator as upstream over HTTP (in this process, so faults are injected from code),
 * and a client that follows the service's retry rule (same Idempotency-Key after 409 problem,
 * 502, 503, 504 or a lost connection, honouring Retry-After, replicas alternately) doing
 * `--requests` earns while faults come one after another. Then the points-ledger check: every
 * earn the client saw succeed is credited exactly once, none is credited without a success.
 *
 * Loopback only; every process it starts is stopped on the way out, whatever happens.
 * Exit 0 when nothing was lost or doubled and no connection was reset during a SIGTERM drain;
 * 1 when the ledger check or the drain failed, 2 when the run could not be set up, 3 past the time limit.
 *
 *   node scripts/chaos.js [--requests 500] [--concurrency 8] [--time-limit 180] [--json]
 */
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { mkdtempSync, rmSync } = require('node:fs');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { createClient } = require('redis');

const ROOT = join(__dirname, '..');
const PARTNER = { id: 'chaos-partner', secret: randomBytes(32).toString('hex') };
const ACTION = 'purchase';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function parseArgs(argv) {
  const options = { requests: 500, concurrency: 8, timeLimitSeconds: 180, json: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      const n = Number(argv[(i += 1)]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${arg} needs a positive integer`);
      return n;
    };
    if (arg === '--requests') options.requests = value();
    else if (arg === '--concurrency') options.concurrency = value();
    else if (arg === '--time-limit') options.timeLimitSeconds = value();
    else if (arg === '--json') options.json = true;
    else throw new Error(`unknown argument ${arg} (--requests N, --concurrency N, --time-limit SECONDS, --json)`);
  }
  return options;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `probe` does, polling; rejects after `ms`. */
async function waitFor(what, probe, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await probe().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`${what}: not ready after ${ms} ms`);
}

/** A child process we own: started, signalled and awaited by this script only. */
function exited(child) {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
    : new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** The private Redis: persisted (append-only, fsync always) so sessions outlive a SIGKILL, as a production Redis would. */
async function startRedis(owned) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'miles-bff-chaos-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const redis = {
    url,
    port,
    dir,
    child: undefined,
    async start() {
      this.child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' });
      owned.add(this.child);
      await waitFor('redis-server', () => ping(url), 10_000);
    },
    async kill() {
      const done = exited(this.child);
      this.child.kill('SIGKILL');
      await done;
      owned.delete(this.child);
    },
  };
  await redis.start();
  return redis;
}

async function ping(url) {
  const client = createClient({ url, socket: { connectTimeout: 500, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } finally {
    if (client.isOpen) client.destroy();
  }
}

async function redisCommand(url, args) {
  const client = createClient({ url, socket: { connectTimeout: 1000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.sendCommand(args);
  } finally {
    if (client.isOpen) client.destroy();
  }
}

function replicaEnv(name, ports, redisUrl, sandboxUrl, sessionSecret) {
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(ports.public),
    INTERNAL_PORT: String(ports.internal),
    LOG_LEVEL: 'warn',
    APM_BASE_URL: sandboxUrl,
    APM_PARTNER_ID: PARTNER.id,
    APM_PARTNER_SECRET: PARTNER.secret,
    APM_TIMEOUT_MS: '1000',
    SESSION_SECRET: sessionSecret,
    COOKIE_SECURE: 'false',
    IDENTITY_MODE: 'insecure-body',
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: 'chaos:',
    // The client is one address doing hundreds of earns a minute: the limits would only measure themselves.
    RATE_LIMIT_ENABLED: 'false',
    CIRCUIT_BREAKER_OPEN_SECONDS: '1',
    SHUTDOWN_TIMEOUT_MS: '5000',
    OTEL_SERVICE_NAME: `miles-bff-chaos-${name}`,
  };
}

function startReplica(name, ports, env, owned) {
  const replica = {
    name,
    url: `http://127.0.0.1:${ports.public}`,
    internalUrl: `http://127.0.0.1:${ports.internal}`,
    child: undefined,
    stderr: '',
    async start() {
      const child = spawn(process.execPath, [join(ROOT, 'dist', 'server.js')], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
      this.child = child;
      this.stderr = '';
      child.stderr.on('data', (chunk) => {
        this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000);
      });
      owned.add(child);
      void exited(child).then(() => owned.delete(child));
      await waitFor(`replica ${name}`, async () => {
        if (child.exitCode !== null) throw new Error(`replica ${name} exited ${child.exitCode}: ${this.stderr}`);
        return (await fetch(`${this.internalUrl}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200;
      }, 20_000);
    },
    /** Signals the replica and resolves with how it exited. */
    async signal(sig) {
      const done = exited(this.child);
      this.child.kill(sig);
      return done;
    },
  };
  return replica;
}

/** Statuses after which the service's retry rule sends the same key again (docs/security.md, retry rules). */
function retryable(status, contentType) {
  return status === 502 || status === 503 || status === 504 || (status === 409 && /^application\/problem\+json/.test(contentType ?? ''));
}

/** undici names a connection the peer closed under a request this way; ECONNREFUSED never reached a replica. */
function transportKind(err) {
  const cause = err && err.cause;
  const code = (cause && (cause.code || cause.name)) || (err && err.name) || 'unknown';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'TimeoutError') return 'timeout';
  return 'reset';
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const startedAt = Date.now();
  const owned = new Set();
  let sandbox;
  let redis;
  const cleanup = async () => {
    for (const child of owned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    owned.clear();
    await sandbox?.close().catch(() => undefined);
    if (redis) rmSync(redis.dir, { recursive: true, force: true });
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const deadline = startedAt + options.timeLimitSeconds * 1000;
  // Set when the run cannot go on: the earns still looping stop at their next attempt.
  let aborted = false;
  const overTime = () => aborted || Date.now() > deadline;
  const limitTimer = setTimeout(() => {
    console.error(`chaos: the time limit (${options.timeLimitSeconds} s) passed; stopping`);
    void cleanup().finally(() => process.exit(3));
  }, options.timeLimitSeconds * 1000 + 15_000);
  limitTimer.unref();

  try {
    const { startSandbox } = require(join(ROOT, 'dist', 'sandbox', 'index.js'));
    sandbox = await startSandbox({ partners: [PARTNER], port: 0, host: '127.0.0.1' });
    redis = await startRedis(owned);
    const sessionSecret = randomBytes(32).toString('hex');
    const replicas = [];
    for (const name of ['A', 'B']) {
      const ports = { public: await freePort(), internal: await freePort() };
      const replica = startReplica(name, ports, replicaEnv(name, ports, redis.url, sandbox.url, sessionSecret), owned);
      await replica.start();
      replicas.push(replica);
    }

    const users = [];
    for (let i = 0; i < Math.min(options.concurrency, 8); i += 1) {
      const id = `chaos-${i}-${randomBytes(3).toString('hex')}`;
      const res = await fetch(`${replicas[i % 2].url}/api/user/clientcheckcredentials`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF': '1' },
        body: JSON.stringify({ partnerClientId: id }),
      });
      if (res.status !== 200) throw new Error(`connect ${id} answered ${res.status}: ${await res.text()}`);
      const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      users.push({ id, cookie, pointsBefore: sandbox.userPoints(id) ?? 0 });
    }

    const stats = { attempts: 0, retries: 0, byStatus: {}, resets: 0, resetsByPhase: {}, resetsDuringDrain: 0, refused: 0, timeouts: 0 };
    const phase = { name: 'healthy', drainOf: undefined };
    const operations = [];
    let next = 0;
    let rr = 0;

    /** One earn (Node's fetch keeps connections alive, as a browser or an ingress does: what a drain must not reset), retried with the same key until a definitive answer, as the retry rule says. */
    async function earn(user) {
      const op = { user: user.id, key: `chaos-${randomBytes(8).toString('hex')}`, param1: `order-${randomBytes(6).toString('hex')}`, outcome: 'undecided', status: 0 };
      operations.push(op);
      const opDeadline = Date.now() + 60_000;
      let replica = (rr += 1) % 2;
      for (let attempt = 0; Date.now() < opDeadline && !overTime(); attempt += 1) {
        if (attempt > 0) stats.retries += 1;
        stats.attempts += 1;
        const target = replicas[replica];
        let wait = 200;
        try {
          const res = await fetch(`${target.url}/api/generosity/store`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'X-CSRF': '1', Cookie: user.cookie, 'Idempotency-Key': op.key },
            body: JSON.stringify({ action: ACTION, param1: op.param1 }),
                signal: AbortSignal.timeout(15_000),
          });
          const text = await res.text();
          stats.byStatus[res.status] = (stats.byStatus[res.status] ?? 0) + 1;
          op.status = res.status;
          if (res.status === 200) {
            op.outcome = 'succeeded';
            return;
          }
          if (!retryable(res.status, res.headers.get('content-type'))) {
            op.outcome = 'refused';
            op.detail = text.slice(0, 200);
            return;
          }
          const retryAfter = Number(res.headers.get('retry-after'));
          if (Number.isFinite(retryAfter) && retryAfter > 0) wait = Math.min(retryAfter, 5) * 1000;
        } catch (err) {
          const kind = transportKind(err);
          const label = `connection ${kind}`;
          stats.byStatus[label] = (stats.byStatus[label] ?? 0) + 1;
          if (kind === 'reset') {
            stats.resets += 1;
            stats.resetsByPhase[phase.name] = (stats.resetsByPhase[phase.name] ?? 0) + 1;
            if (phase.drainOf === target.name) stats.resetsDuringDrain += 1;
          } else if (kind === 'refused') stats.refused += 1;
          else stats.timeouts += 1;
          wait = 50;
        }
        // The same key goes to the other replica: whichever one answers settles it.
        replica = (replica + 1) % 2;
        await sleep(wait);
      }
    }

    /** Spreads the earns over the fault schedule (about 30 s), so every fault meets some: earn i starts no sooner than its slot. */
    const scheduleMs = 34_000;
    const loadStart = Date.now();
    async function worker(user) {
      while (next < options.requests && !overTime()) {
        const i = next;
        next += 1;
        const slot = loadStart + (i * scheduleMs) / options.requests;
        if (slot > Date.now()) await sleep(slot - Date.now());
        await earn(user);
      }
    }

    const faults = [];
    async function fault(name, run) {
      if (overTime()) return;
      phase.name = name;
      const t0 = Date.now();
      await run();
      faults.push({ fault: name, ms: Date.now() - t0 });
      phase.name = 'healthy';
      await sleep(1500);
    }

    async function schedule() {
      await sleep(1500);
      await fault('redis SIGKILL, restarted', async () => {
        await redis.kill();
        await sleep(2000);
        await redis.start();
      });
      await fault('redis CLIENT PAUSE 3000 WRITE', async () => {
        await redisCommand(redis.url, ['CLIENT', 'PAUSE', '3000', 'WRITE']);
        await sleep(3500);
      });
      await fault('upstream stall (after commit, 2.5 s)', async () => {
        sandbox.injectFault({ path: 'generosity/store', kind: 'delay-after-commit', ms: 2500 });
        await sleep(3000);
        sandbox.clearFaults();
        await sleep(2500);
      });
      await fault('upstream 503', async () => {
        sandbox.injectFault({ path: 'generosity/store', kind: 'status', status: 503 });
        await sleep(2500);
        sandbox.clearFaults();
      });
      await fault('replica B SIGKILL, restarted', async () => {
        const b = replicas[1];
        const how = await b.signal('SIGKILL');
        if (how.signal !== 'SIGKILL') throw new Error(`replica B did not die of SIGKILL: ${JSON.stringify(how)}`);
        await sleep(2000);
        await b.start();
      });
      await fault('replica A SIGTERM under keep-alive load, restarted', async () => {
        const a = replicas[0];
        phase.drainOf = a.name;
        const how = await a.signal('SIGTERM');
        phase.drainOf = undefined;
        stats.drainExit = how.code;
        await a.start();
      });
    }

    const load = Promise.all(users.map((user, i) => worker(users[i])));
    await schedule();
    await load;

    // The ledger: the simulator's own record of every applied call, by order (param1).
    const credited = new Map();
    for (const call of sandbox.calls) {
      if (call.path !== 'generosity/store' || call.errorCode !== 0) continue;
      const { param1 } = JSON.parse(call.body);
      credited.set(param1, (credited.get(param1) ?? 0) + 1);
    }
    const pointsPerEarn = 50;
    let lost = 0;
    let doubled = 0;
    let unconfirmed = 0;
    const problems = [];
    for (const op of operations) {
      const n = credited.get(op.param1) ?? 0;
      if (n > 1) doubled += 1;
      if (op.outcome === 'succeeded' && n === 0) lost += 1;
      if (op.outcome !== 'succeeded' && n > 0) unconfirmed += 1;
      if (n > 1 || (op.outcome === 'succeeded') !== (n > 0)) problems.push({ key: op.key, param1: op.param1, outcome: op.outcome, status: op.status, credited: n });
    }
    // The balances agree with the ledger: nothing credited outside it.
    let balanceMismatch = 0;
    for (const user of users) {
      const expected = user.pointsBefore + pointsPerEarn * operations.filter((op) => op.user === user.id).reduce((sum, op) => sum + (credited.get(op.param1) ?? 0), 0);
      if (sandbox.userPoints(user.id) !== expected) balanceMismatch += 1;
    }
    const outcomes = { succeeded: 0, refused: 0, undecided: 0 };
    for (const op of operations) outcomes[op.outcome] += 1;
    const summary = {
      requests: operations.length,
      attempts: stats.attempts,
      retries: stats.retries,
      answers: stats.byStatus,
      outcomes,
      lost,
      doubled,
      unconfirmedCredited: unconfirmed,
      balanceMismatch,
      connectionResets: stats.resets,
      resetsByFault: stats.resetsByPhase,
      resetsDuringDrain: stats.resetsDuringDrain,
      refusedConnections: stats.refused,
      clientTimeouts: stats.timeouts,
      drainExitCode: stats.drainExit ?? null,
      faults,
      durationSeconds: Math.round((Date.now() - startedAt) / 100) / 10,
      timeLimitReached: overTime(),
      problems: problems.slice(0, 20),
    };
    // Wrong money or a reset drain fails the run even when it was cut short; a run cut short by the time limit proves nothing more.
    const ledgerOk = lost === 0 && doubled === 0 && unconfirmed === 0 && balanceMismatch === 0 && stats.resetsDuringDrain === 0;
    const complete = outcomes.undecided === 0 && summary.drainExitCode === 0 && faults.length === 6;
    summary.ok = ledgerOk && complete && !summary.timeLimitReached;
    if (options.json) console.log(JSON.stringify(summary));
    else printTable(summary);
    await cleanup();
    clearTimeout(limitTimer);
    process.exitCode = !ledgerOk ? 1 : summary.timeLimitReached ? 3 : complete ? 0 : 1;
  } catch (err) {
    console.error(`chaos: ${err instanceof Error ? err.stack : String(err)}`);
    aborted = true;
    await cleanup();
    clearTimeout(limitTimer);
    process.exitCode = 2;
  }
}

function printTable(s) {
  const rows = [
    ['requests (earns)', s.requests],
    ['attempts', s.attempts],
    ['retries (same key)', s.retries],
    ...Object.entries(s.answers).map(([status, n]) => [`  answers ${status}`, n]),
    ['succeeded', s.outcomes.succeeded],
    ['refused', s.outcomes.refused],
    ['undecided', s.outcomes.undecided],
    ['lost', s.lost],
    ['doubled', s.doubled],
    ['credited without success', s.unconfirmedCredited],
    ['balances off the ledger', s.balanceMismatch],
    ['connection resets', s.connectionResets],
    ...Object.entries(s.resetsByFault).map(([fault, n]) => [`  during ${fault}`, n]),
    ['  during SIGTERM drain', s.resetsDuringDrain],
    ['refused connections', s.refusedConnections],
    ['drain exit code', s.drainExitCode],
    ['duration (s)', s.durationSeconds],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const f of s.faults) console.log(`fault: ${f.fault} (${f.ms} ms)`);
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  for (const p of s.problems) console.log(`problem: ${JSON.stringify(p)}`);
  console.log(s.ok ? 'chaos: OK' : 'chaos: FAILED');
}

void main();
