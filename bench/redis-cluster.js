'use strict';
/* global fetch */
/**
 * The session-carried read on a Redis Cluster against the same read on a
 * standalone Redis, in one run on this machine. The target: the cluster's
 * figure within 10 % of the standalone one.
 *
 * Run after `npm run build`:  node bench/redis-cluster.js [--duration=8] [--rounds=3]
 *                              [--connections=50] [--rate-limits] [--json=FILE] [--cpu-prof]
 *
 * Starts, each in its own process (redis-server and redis-cli must be on PATH):
 * - a standalone redis-server and a Redis Cluster of 3 masters (redis-server
 *   --cluster-enabled, redis-cli --cluster create), on free loopback ports,
 *   without persistence, both stopped at the end;
 * - the upstream: the sandbox simulator (bench/servers/upstream.js);
 * - two services, `node dist/server.js` as production runs it, the same
 *   settings but Redis: `REDIS_URL` on the standalone one, `REDIS_MODE=cluster`
 *   with `REDIS_CLUSTER_NODES` on the other.
 * autocannon runs here, in the runner. The scenario is bench/scenarios.js'
 * `session-read` (GET /api/gift/list?lang=fr with the cookies of 200
 * connected users in turn: one Redis GET of the session, then the signed
 * upstream call). The two services are measured in alternation, `rounds`
 * times each after a warm-up, so that drift on a shared machine falls on both
 * alike; the best round of each is compared (other work on the machine only
 * ever lowers a round), and the medians are shown too. The rate limits are off as in
 * `npm run bench`; `--rate-limits` turns them on (ceilings no run reaches) to
 * include their script calls, routed per key in the cluster.
 */
const { spawn, spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { runLoad } = require('./lib/load');
const { summariseProfiles } = require('./lib/profile');
const { sampleProcesses, startHelper, stopHelper, startService, sleep, ROOT } = require('./lib/procs');
const { scenarios } = require('./scenarios');

const USERS = 200;
const log = (...a) => console.error(...a);

function parseArgs(argv) {
  const value = (name, fallback) => {
    const hit = argv.find((a) => a.startsWith(`--${name}=`));
    return hit ? hit.slice(name.length + 3) : fallback;
  };
  return {
    duration: Number(value('duration', 8)),
    warmup: Number(value('warmup', 2)),
    rounds: Number(value('rounds', 3)),
    connections: Number(value('connections', 50)),
    rateLimits: argv.includes('--rate-limits'),
    json: value('json', ''),
    cpuProf: argv.includes('--cpu-prof'),
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** One redis-server in a process group of its own; resolves once it answers PING. */
async function startRedis(dir, name, extraArgs) {
  const port = await freePort();
  const nodeDir = path.join(dir, name);
  fs.mkdirSync(nodeDir);
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', nodeDir, '--logfile', path.join(nodeDir, 'redis.log'), ...extraArgs(port, nodeDir)], {
    detached: true,
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG') return { child, port, pid: child.pid };
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error(`redis-server ${name} did not start (see ${path.join(nodeDir, 'redis.log')})`);
}

function killAll(nodes) {
  for (const n of nodes) {
    try {
      process.kill(-n.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** A standalone Redis and a 3-master Redis Cluster. */
async function startRedisTopologies(dir) {
  const nodes = [];
  try {
    const standalone = await startRedis(dir, 'standalone', () => []);
    nodes.push(standalone);
    const masters = [];
    for (let i = 0; i < 3; i++) {
      const busPort = await freePort();
      const node = await startRedis(dir, `cluster-${i}`, (_port, nodeDir) => [
        '--cluster-enabled', 'yes',
        '--cluster-port', String(busPort),
        '--cluster-config-file', path.join(nodeDir, 'nodes.conf'),
      ]);
      nodes.push(node);
      masters.push(node);
    }
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...masters.map((m) => `127.0.0.1:${m.port}`), '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    const deadline = Date.now() + 20_000;
    while (!masters.every((m) => /cluster_state:ok/.test(spawnSync('redis-cli', ['-p', String(m.port), 'cluster', 'info'], { encoding: 'utf8' }).stdout))) {
      if (Date.now() > deadline) throw new Error('the cluster did not reach cluster_state:ok');
      await sleep(100);
    }
    return { standalone, masters, nodes };
  } catch (err) {
    killAll(nodes);
    throw err;
  }
}

async function connectUsers(origin, runId, n) {
  const users = [];
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${origin}/api/user/clientcheckcredentials`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf': '1' },
      body: JSON.stringify({ partnerClientId: `${runId}-s${i}`, email: `s${i}@bench.example`, firstName: 'Bench' }),
    });
    const setCookie = r.headers.get('set-cookie');
    if (r.status !== 200 || !setCookie) throw new Error(`connect through the service answered ${r.status}: ${await r.text()}`);
    users.push({ cookie: setCookie.split(';')[0] });
  }
  return users;
}

const profileDir = (runId, name) => path.join(ROOT, 'bench', 'profiles', `redis-cluster-${runId}-${name}`);

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

async function runClusterBench(opts) {
  const runId = `c${randomBytes(4).toString('hex')}`;
  const partnerId = `bench-partner-${runId}`;
  const secret = randomBytes(32).toString('hex');
  const sessionSecret = randomBytes(32).toString('hex');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miles-bff-bench-cluster-'));
  const scenario = scenarios.find((s) => s.id === 'session-read');
  const redis = await startRedisTopologies(dir);
  const helpers = {};
  const services = {};
  try {
    helpers.upstream = await startHelper('upstream.js', { BENCH_PARTNER_ID: partnerId, BENCH_PARTNER_SECRET: secret });
    const common = {
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      APM_BASE_URL: helpers.upstream.url,
      APM_PARTNER_ID: partnerId,
      APM_PARTNER_SECRET: secret,
      REDIS_KEY_PREFIX: `bench:${runId}:`,
      RATE_LIMIT_ENABLED: String(opts.rateLimits),
      ...(opts.rateLimits ? { RATE_LIMIT_IP_MAX: '10000000', RATE_LIMIT_CONNECT_MAX: '1000000', RATE_LIMIT_MUTATION_MAX: '1000000' } : {}),
      COOKIE_SECURE: 'false',
      SESSION_SECRET: sessionSecret,
      DEMO_PAGE: 'false',
    };
    // --cpu-prof: each service writes its profile at exit, in a folder of its own.
    const profiled = (name) => (opts.cpuProf ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir(runId, name)}`] } : {});
    services.standalone = await startService({ ...common, REDIS_URL: `redis://127.0.0.1:${redis.standalone.port}` }, profiled('standalone'));
    services.cluster = await startService(
      { ...common, REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: redis.masters.map((m) => `127.0.0.1:${m.port}`).join(',') },
      profiled('cluster'),
    );

    const targets = {};
    for (const name of ['standalone', 'cluster']) {
      const users = await connectUsers(services[name].origin, `${runId}-${name}`, USERS);
      targets[name] = { service: services[name], requests: scenario.serviceRequests({ serviceUsers: users }), rounds: [] };
    }
    const redisPids = { standalone: [redis.standalone.pid], cluster: redis.masters.map((m) => m.pid) };
    log(`redis-cluster bench ${runId}: ${opts.connections} connections, ${opts.rounds} rounds of ${opts.duration} s per target, rate limits ${opts.rateLimits ? 'on' : 'off'}`);
    for (const t of Object.values(targets)) await runLoad({ origin: t.service.origin, requests: t.requests, connections: opts.connections, duration: opts.warmup });
    for (let round = 0; round < opts.rounds; round++) {
      // Alternate which goes first, so that neither always follows the other.
      const order = round % 2 === 0 ? ['standalone', 'cluster'] : ['cluster', 'standalone'];
      for (const name of order) {
        const t = targets[name];
        const pids = { service: t.service.pid };
        redisPids[name].forEach((pid, i) => (pids[`redis${i}`] = pid));
        const sampler = sampleProcesses(pids);
        const r = await runLoad({ origin: t.service.origin, requests: t.requests, connections: opts.connections, duration: opts.duration });
        const usage = sampler.stop();
        const redisCpuMs = redisPids[name].reduce((sum, _pid, i) => sum + usage[`redis${i}`].cpuMs, 0);
        t.rounds.push({
          ...r,
          serviceCpuUsPerRequest: (usage.service.cpuMs * 1000) / Math.max(1, r.total),
          redisCpuUsPerRequest: (redisCpuMs * 1000) / Math.max(1, r.total),
          otherCores: usage.otherCores,
        });
        log(`  round ${round + 1} ${name.padEnd(10)} ${String(r.rps).padStart(6)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  non-2xx ${r.non2xx}  errors ${r.errors}`);
      }
    }
    const summary = {};
    for (const [name, t] of Object.entries(targets)) {
      const rps = t.rounds.map((r) => r.rps);
      const kept = t.rounds.find((r) => r.rps === Math.max(...rps));
      summary[name] = {
        rps: kept.rps,
        medianRps: median(rps),
        p50Ms: kept.p50,
        p99Ms: kept.p99,
        serviceCpuUsPerRequest: Math.round(kept.serviceCpuUsPerRequest),
        redisCpuUsPerRequest: Math.round(kept.redisCpuUsPerRequest),
        rounds: rps,
        non2xx: t.rounds.reduce((s, r) => s + r.non2xx, 0),
        errors: t.rounds.reduce((s, r) => s + r.errors, 0),
      };
    }
    const ratio = summary.cluster.rps / summary.standalone.rps;
    const medianRatio = summary.cluster.medianRps / summary.standalone.medianRps;
    return {
      runId,
      scenario: scenario.title,
      machine: { cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`, node: process.version },
      options: opts,
      standalone: summary.standalone,
      cluster: summary.cluster,
      ratio: Number(ratio.toFixed(3)),
      medianRatio: Number(medianRatio.toFixed(3)),
      withinTenPercent: ratio >= 0.9,
    };
  } finally {
    await Promise.all(Object.values(services).map((s) => s.stop(5000)));
    await stopHelper(helpers.upstream);
    killAll(redis.nodes);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { runClusterBench };

if (require.main === module) {
  const opts = parseArgs(process.argv.slice(2));
  runClusterBench(opts)
    .then((f) => {
      const row = (name, m) =>
        `${name.padEnd(12)} ${String(m.rps).padStart(7)} req/s (median ${m.medianRps})   p50 ${m.p50Ms.toFixed(2).padStart(6)} ms   p99 ${m.p99Ms.toFixed(2).padStart(6)} ms   service ${m.serviceCpuUsPerRequest} µs CPU/req   redis ${m.redisCpuUsPerRequest} µs CPU/req   (rounds ${m.rounds.join(', ')}; ${m.non2xx} non-2xx, ${m.errors} errors)`;
      console.log(`${f.scenario}: best of ${opts.rounds} rounds, ${opts.connections} connections, ${opts.duration} s each, rate limits ${opts.rateLimits ? 'on' : 'off'}`);
      console.log(row('standalone', f.standalone));
      console.log(row('cluster (3)', f.cluster));
      console.log(`cluster/standalone: ${f.ratio} (${f.withinTenPercent ? 'within' : 'NOT within'} 10 %); medians: ${f.medianRatio}`);
      if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify(f, null, 2)}\n`);
      if (opts.cpuProf) {
        for (const name of ['standalone', 'cluster']) console.log(`\n${name}:\n${summariseProfiles(profileDir(f.runId, name), { top: 25 })}`);
      }
      if (!f.withinTenPercent || f.standalone.non2xx || f.cluster.non2xx || f.standalone.errors || f.cluster.errors) process.exitCode = 1;
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
