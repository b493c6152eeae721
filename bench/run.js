'use strict';
/* global fetch, Buffer */
/**
 * `npm run bench`: the service against its baselines, in one run on this
 * machine. Starts, each in its own process:
 * - the upstream: the sandbox simulator (dist/sandbox), strict signature checks;
 * - the service (A): `node dist/server.js` with Redis, pointed at that upstream;
 * - optionally a second build of the service (B, `--service-root`, `--b-node-args`),
 *   and the service at LOG_LEVEL=warn (the access log's cost);
 * - the baselines: a bare Express handler answering the service's exact JSON
 *   (the framework's ceiling) and a plain keep-alive pass-through proxy
 *   (http-proxy-middleware) to the upstream; and the upstream called directly.
 * autocannon runs here, in the runner, never inside a process it measures.
 *
 * The machine's speed drifts by up to 2× from one minute to the next, so every
 * figure is measured in rounds: in each round every scenario meets every
 * target, flat out (50 connections) and then paced (the services and the
 * direct upstream at one same load, a quarter of the service's flat-out rate),
 * and every other round runs in the reverse order. A ratio is taken within a
 * round (target and baseline seconds apart), and the report gives the median
 * over the rounds with each round's figure beside it. Then a soak of the
 * session-carried read (RSS every second).
 *
 * Flags: --rounds=3, --quick (short runs), --only=getprog,session-read,…,
 * --connections=50, --duration=5 (s per measure), --soak=200000 (requests; 0
 * skips), --no-log-compare, --json=FILE, --doc (rewrites the figures in
 * docs/benchmarks.md), --cpu-prof (profiles the service A and the baselines'
 * process; files in bench/profiles/), --trace-gc (the services' V8 GC trace,
 * summarised; files in bench/profiles/gc/), --log-level=info, --targets=service,bare,proxy,direct,
 * --node-args='…' (node flags of A), --node-options='…' (the NODE_OPTIONS of A
 * and B; the Dockerfile's by default), --service-root=DIR (B: the service built
 * in another checkout), --b-node-args='…' (node flags of B; B is this checkout's
 * build when --service-root is not given), --rate-limits (the limits on, at
 * ceilings no run reaches), --paced-share=0.25, --paced-rate=N (req/s; fixed).
 * Exit code 2 when a target is missed, 130 when interrupted.
 */
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { createClient } = require('redis');
const { runLoad, runPaced } = require('./lib/load');
const { sampleProcesses, startHelper, stopHelper, startService, waitForQuiet, ROOT } = require('./lib/procs');
const { signedRequest } = require('./lib/sign');
const { summariseProfiles, summariseGcTrace } = require('./lib/profile');
const { scrape, delta } = require('./lib/service-metrics');
const { roundOrder, aggregate } = require('./lib/rounds');
const { evaluate, renderMarkdown, machine } = require('./lib/report');
const { scenarios } = require('./scenarios');

/** The services (A, B, A at LOG_LEVEL=warn), then the baselines. */
const SERVICES = ['service', 'service-b', 'service-warn'];
const BASELINES = ['bare', 'proxy', 'direct'];
const TARGETS = [...SERVICES, ...BASELINES];
/** The scenarios the access log's cost is measured on (service-warn's). */
const LOG_SCENARIOS = ['getprog', 'session-read'];
const profileDir = path.join(ROOT, 'bench', 'profiles', 'service');
const baselineProfileDir = path.join(ROOT, 'bench', 'profiles', 'baselines');
const traceDir = path.join(ROOT, 'bench', 'profiles', 'gc');
const SERVICE_USERS = 200;

/** The NODE_OPTIONS the service's image sets (Dockerfile `ENV NODE_OPTIONS=…`), '' when none. */
function imageNodeOptions() {
  const line = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').split('\n').find((l) => /^ENV\s+NODE_OPTIONS[=\s]/.test(l));
  return line ? line.replace(/^ENV\s+NODE_OPTIONS[=\s]/, '').replace(/^"|"$/g, '').trim() : '';
}

function parseArgs(argv) {
  const flag = (name) => argv.includes(`--${name}`);
  const value = (name, fallback) => {
    const hit = argv.find((a) => a.startsWith(`--${name}=`));
    return hit ? hit.slice(name.length + 3) : fallback;
  };
  const words = (text) => text.split(' ').filter(Boolean);
  const quick = flag('quick');
  const serviceRoot = value('service-root', '');
  const bNodeArgs = words(value('b-node-args', ''));
  const withB = Boolean(serviceRoot) || argv.some((a) => a.startsWith('--b-node-args='));
  const targets = value('targets', '') ? value('targets', '').split(',') : ['service', ...(withB ? ['service-b'] : []), ...BASELINES];
  for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`--targets: unknown target ${t} (${TARGETS.join(', ')})`);
  const logCompare = !flag('no-log-compare') && !quick;
  return {
    quick,
    rounds: Math.max(1, Number(value('rounds', 3))),
    only: value('only', '') ? value('only', '').split(',') : scenarios.map((s) => s.id),
    targets: logCompare && targets.includes('service') && !targets.includes('service-warn') ? [...targets.slice(0, 1), 'service-warn', ...targets.slice(1)] : targets,
    connections: Number(value('connections', 50)),
    duration: Number(value('duration', quick ? 2 : 5)),
    warmup: quick ? 1 : 1.5,
    soak: Number(value('soak', quick ? 20_000 : 200_000)),
    logCompare,
    json: value('json', ''),
    doc: flag('doc'),
    cpuProf: flag('cpu-prof'),
    traceGc: flag('trace-gc'),
    logLevel: value('log-level', 'info'),
    rateLimits: flag('rate-limits'),
    pacedShare: Number(value('paced-share', 0.25)),
    pacedRate: Number(value('paced-rate', 0)) || undefined,
    serviceRoot: ROOT,
    bServiceRoot: withB ? path.resolve(serviceRoot || ROOT) : undefined,
    nodeOptions: value('node-options', imageNodeOptions()),
    nodeArgs: words(value('node-args', '')),
    bNodeArgs,
    redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  };
}

const log = (...a) => console.error(...a);
const fmt = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '–');

/** Connects `n` users through a service; returns their session cookies. */
async function connectServiceUsers(origin, runId, n) {
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

/** Connects `n` users on the upstream directly (signed here); returns their userTokens. */
async function connectUpstreamUsers(upstreamOrigin, ctx, n) {
  const users = [];
  for (let i = 0; i < n; i++) {
    const req = signedRequest({
      partnerId: ctx.partnerId,
      secret: ctx.secret,
      basePath: ctx.basePath,
      endpoint: 'user/clientcheckcredentials',
      sub: '',
      body: { partnerClientId: `${ctx.runId}-u${i}`, email: `u${i}@bench.example`, firstName: 'Bench' },
      requestId: `bench-setup-${i}`,
    });
    const r = await fetch(`${upstreamOrigin}${req.path}`, { method: 'POST', headers: req.headers, body: req.body });
    const answer = await r.json();
    const userToken = answer?.data?.user?.userToken;
    if (typeof userToken !== 'string') throw new Error(`upstream connect answered ${r.status}: ${JSON.stringify(answer)}`);
    users.push({ userToken });
  }
  return users;
}

/** Sends one request of a scenario's kind to the service: its answer is what the bare handler answers. */
async function sampleAnswer(origin, requests) {
  const first = requests[0];
  const req = typeof first.setupRequest === 'function' ? first.setupRequest({}) : first;
  const r = await fetch(`${origin}${req.path}`, { method: req.method, headers: req.headers ?? {}, body: req.body });
  const body = await r.text();
  if (r.status !== 200) throw new Error(`the service answered ${r.status} to ${req.method} ${req.path}: ${body}`);
  return body;
}

async function redisPid(redisUrl) {
  const client = createClient({ url: redisUrl });
  await client.connect();
  const info = await client.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1];
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  await client.close();
  return { pid: fs.existsSync(`/proc/${pid}`) ? pid : undefined, version };
}

/** Calls per Redis command since the server started (`INFO commandstats`). */
async function redisCommandCounts(client) {
  const counts = {};
  for (const m of (await client.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts[m[1]] = Number(m[2]);
  return counts;
}

async function deletePrefix(redisUrl, prefix) {
  const client = createClient({ url: redisUrl });
  await client.connect();
  let deleted = 0;
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    if (keys.length) deleted += await client.unlink(keys);
  }
  await client.close();
  return deleted;
}

/**
 * One benchmark run with `opts` (see `parseArgs`; every field needed): starts
 * the processes, measures in rounds, stops them, deletes the run's Redis keys,
 * and returns the figures (`renderMarkdown` makes the tables).
 */
async function runBench(opts) {
  const runId = `b${randomBytes(4).toString('hex')}`;
  const keyPrefix = `bench:${runId}:`;
  const partnerId = `bench-partner-${runId}`;
  const secret = randomBytes(32).toString('hex');
  const redis = await redisPid(opts.redisUrl);
  const started = Date.now();
  const services = opts.targets.filter((t) => SERVICES.includes(t));
  log(`bench ${runId}: ${opts.rounds} rounds, ${opts.connections} connections, ${opts.duration} s per measure, scenarios ${opts.only.join(', ')}, targets ${opts.targets.join(', ')}`);

  const helpers = {};
  /** Each service variant: its own key prefix (sessions, cache), its own users. */
  const variants = {
    service: { letter: 'a', logLevel: opts.logLevel, root: opts.serviceRoot, nodeArgs: [...opts.nodeArgs, ...(opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])] },
    'service-b': { letter: 'b', logLevel: opts.logLevel, root: opts.bServiceRoot, nodeArgs: opts.bNodeArgs },
    'service-warn': { letter: 'w', logLevel: 'warn', root: opts.serviceRoot, nodeArgs: opts.nodeArgs },
  };
  const serviceEnv = (v) => ({
    NODE_ENV: 'development',
    LOG_LEVEL: v.logLevel,
    APM_BASE_URL: helpers.upstream.url,
    APM_PARTNER_ID: partnerId,
    APM_PARTNER_SECRET: secret,
    REDIS_URL: opts.redisUrl,
    REDIS_KEY_PREFIX: `${keyPrefix}${v.letter}:`,
    // The limits (600 requests per IP per minute) would refuse a benchmark from one IP within a second:
    // off, or (--rate-limits) on with ceilings no run reaches, so that their Redis round trips are measured.
    RATE_LIMIT_ENABLED: String(opts.rateLimits),
    ...(opts.rateLimits ? { RATE_LIMIT_IP_MAX: '10000000', RATE_LIMIT_CONNECT_MAX: '1000000', RATE_LIMIT_MUTATION_MAX: '1000000' } : {}),
    COOKIE_SECURE: 'false',
    SESSION_SECRET: randomBytes(32).toString('hex'),
    DEMO_PAGE: 'false',
    // As the image runs it: the Dockerfile's NODE_OPTIONS (the heap bound), unless --node-options says otherwise.
    NODE_OPTIONS: opts.nodeOptions,
  });
  const running = {};
  const results = { runId, machine: machine(redis.version), options: opts, scenarios: {}, soak: {}, rounds: [], served: {} };
  /** Stops every process this run started and deletes its Redis keys; also on Ctrl-C. */
  let cleaning;
  let redisClient;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      for (const [name, service] of Object.entries(running)) {
        const code = await service.stop();
        if (code !== 0) log(`${name} exited with ${code}:\n${service.stderr()}`);
      }
      await stopHelper(helpers.baselines);
      await stopHelper(helpers.upstream);
      await redisClient?.close().catch(() => undefined);
      const deleted = await deletePrefix(opts.redisUrl, keyPrefix).catch((err) => log(`could not delete ${keyPrefix}*: ${err.message}`));
      log(`  redis: deleted ${deleted} keys under ${keyPrefix}`);
    })());
  const interrupted = () => {
    log('  interrupted: stopping the processes and deleting the run\'s keys');
    cleanUp().finally(() => process.exit(130));
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);

  try {
    helpers.upstream = await startHelper('upstream.js', { BENCH_PARTNER_ID: partnerId, BENCH_PARTNER_SECRET: secret });
    const upstreamOrigin = `http://127.0.0.1:${helpers.upstream.port}`;
    const ctx = { partnerId, secret, basePath: '/2.0/', runId };
    // Every service its own users and its own counter of orders (a context of its own, made before any request).
    const contexts = {};
    for (const name of services) {
      const v = variants[name];
      // --trace-gc: V8 prints each collection on stdout, kept in a file beside the profiles (with the access log).
      const stdoutFile = opts.traceGc ? path.join(traceDir, `${name}.stdout`) : undefined;
      if (stdoutFile) fs.mkdirSync(traceDir, { recursive: true });
      running[name] = await startService(serviceEnv(v), { root: v.root, nodeArgs: [...v.nodeArgs, ...(opts.traceGc ? ['--trace-gc'] : [])], stdoutFile });
      contexts[name] = { ...ctx, runId: `${runId}${v.letter}`, serviceUsers: await connectServiceUsers(running[name].origin, `${runId}${v.letter}`, SERVICE_USERS) };
    }
    ctx.upstreamUsers = await connectUpstreamUsers(upstreamOrigin, ctx, SERVICE_USERS);
    for (const c of Object.values(contexts)) c.upstreamUsers = ctx.upstreamUsers;

    const chosen = scenarios.filter((s) => opts.only.includes(s.id));
    const sampler = running.service ?? Object.values(running)[0];
    const routes = [];
    if (opts.targets.includes('bare')) {
      if (!sampler) throw new Error('the bare handler answers what a service answered: measure it with a service');
      for (const s of chosen) routes.push({ ...s.bareRoute, body: await sampleAnswer(sampler.origin, s.serviceRequests(contexts.service ?? Object.values(contexts)[0])) });
      results.bodyBytes = Object.fromEntries(chosen.map((s, i) => [s.id, Buffer.byteLength(routes[i].body)]));
    }
    const baselineArgs = opts.cpuProf ? [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${baselineProfileDir}`] : process.execArgv;
    helpers.baselines = await startHelper('baselines.js', { BENCH_UPSTREAM_ORIGIN: upstreamOrigin }, { routes }, baselineArgs);
    const origins = {
      bare: `http://127.0.0.1:${helpers.baselines.barePort}`,
      proxy: `http://127.0.0.1:${helpers.baselines.proxyPort}`,
      direct: upstreamOrigin,
    };
    for (const name of services) origins[name] = running[name].origin;
    redisClient = createClient({ url: opts.redisUrl });
    await redisClient.connect();
    const pids = (target) => ({
      service: (running[target] ?? running.service ?? sampler)?.pid,
      upstream: helpers.upstream.child.pid,
      baselines: helpers.baselines.child.pid,
      redis: redis.pid,
      loadgen: process.pid,
    });

    /**
     * Warm-up (not measured), then one measured load with every process sampled: flat out
     * (autocannon), or paced at `rate` requests per second (runPaced).
     */
    async function measure(target, scenario, { rate, label }) {
      const c = contexts[target] ?? contexts.service ?? Object.values(contexts)[0] ?? ctx;
      const requests = () => (SERVICES.includes(target) || target === 'bare' ? scenario.serviceRequests(c) : scenario.upstreamRequests(ctx));
      const load = async (seconds) => {
        const r = rate
          ? await runPaced({ origin: origins[target], requests: requests(), connections: opts.connections, rate, duration: seconds })
          : await runLoad({ origin: origins[target], requests: requests(), connections: opts.connections, duration: seconds });
        // Requests each process served, warm-ups included: a profile's time per request.
        results.served[target] = (results.served[target] ?? 0) + r.total;
        return r;
      };
      // The rounds, not retries, answer the machine's drift: a short wait for quiet, and one measure.
      const quiet = await waitForQuiet({ maxWaitMs: opts.quick ? 1000 : 3000 });
      await load(opts.warmup);
      const commandsBefore = await redisCommandCounts(redisClient);
      const own = running[target];
      const metricsBefore = own ? await scrape(own.internalOrigin) : undefined;
      const procSampler = sampleProcesses(pids(target));
      const r = await load(opts.duration);
      const procs = procSampler.stop();
      const metricsAfter = own ? await scrape(own.internalOrigin) : undefined;
      const commandsAfter = await redisCommandCounts(redisClient);
      // Redis commands per request (every client of this Redis counts, the runner's INFO too: a floor of noise).
      const redisPerRequest = {};
      for (const [name, calls] of Object.entries(commandsAfter)) {
        const per = (calls - (commandsBefore[name] ?? 0) - (name === 'info' ? 1 : 0)) / Math.max(1, r.total);
        if (per >= 0.005) redisPerRequest[name] = Math.round(per * 100) / 100;
      }
      const cpuUsPerRequest = {};
      for (const name of Object.keys(pids(target))) cpuUsPerRequest[name] = Math.round((procs[name].cpuMs * 1000) / Math.max(1, r.total));
      const figures = {
        ...r,
        peakRssMb: procs.service.peakRssMb,
        cpuUsPerRequest,
        redisPerRequest,
        gc: delta(metricsBefore, metricsAfter),
        otherCores: Math.round(procs.otherCores * 100) / 100,
        quietBefore: Math.round(quiet * 100) / 100,
      };
      const bad = r.non2xx || r.errors ? `  !! ${r.non2xx} non-2xx ${JSON.stringify(r.statuses)}, ${r.errors} errors` : '';
      const gc = figures.gc ? `  full GCs ${figures.gc.fullGcs}, GC ${figures.gc.gcMs} ms, pauses ≥10 ms ${figures.gc.pausesOver10ms}, loop lag p99 ${figures.gc.lagP99Ms} ms` : '';
      log(
        `  ${label} ${scenario.id.padEnd(13)} ${target.padEnd(12)}${rate ? ` @${rate}/s` : ''}: ${String(r.rps).padStart(6)} req/s  p50 ${fmt(r.p50)}  p99 ${fmt(r.p99)} ms  RSS ${figures.peakRssMb} MB  service cpu ${cpuUsPerRequest.service} µs/req${gc}  other load ${figures.otherCores} cores${bad}`,
      );
      return figures;
    }

    const paced = opts.targets.includes('direct') && services.length > 0;
    const rates = {};
    for (let round = 0; round < opts.rounds; round++) {
      const steps = roundOrder({ round, scenarios: chosen.map((s) => s.id), targets: opts.targets, paced, services, logScenarios: LOG_SCENARIOS });
      const measures = [];
      for (const step of steps) {
        const scenario = chosen.find((s) => s.id === step.scenario);
        let rate;
        if (step.paced) {
          // One same offered load in every round and for every target: a quarter of the first service's flat-out rate in the first round.
          rate = rates[step.scenario] ??= opts.pacedRate ?? Math.max(100, Math.round((measures.find((m) => m.scenario === step.scenario && !m.paced && SERVICES.includes(m.target))?.figures.rps * opts.pacedShare) / 100) * 100 || 100);
        }
        const figures = await measure(step.target, scenario, { rate, label: `[${round + 1}/${opts.rounds}]` });
        measures.push({ ...step, rate, figures });
      }
      results.rounds.push({ round: round + 1, order: steps.map((s) => `${s.scenario}:${s.target}${s.paced ? '@paced' : ''}`), measures });
    }
    results.scenarios = aggregate({ rounds: results.rounds, scenarios: chosen, rates });

    const reads = scenarios.find((s) => s.id === 'session-read');
    if (opts.soak > 0) {
      for (const name of services.filter((s) => s !== 'service-warn')) {
        log(`  soak ${name}: ${opts.soak} requests of the session-carried read, RSS every second`);
        const before = await scrape(running[name].internalOrigin);
        const rss = sampleProcesses({ service: running[name].pid }, { intervalMs: 1000, keepSeries: true });
        const r = await runLoad({ origin: running[name].origin, requests: reads.serviceRequests(contexts[name]), connections: opts.connections, amount: opts.soak });
        const series = rss.stop().service.series.map(([, mb]) => mb);
        const gc = delta(before, await scrape(running[name].internalOrigin));
        const q = Math.max(1, Math.floor(series.length / 4));
        const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
        results.soak[name] = {
          requests: r.total,
          seconds: Math.round(r.seconds),
          rps: r.rps,
          p99: r.p99,
          non2xx: r.non2xx,
          errors: r.errors,
          gc,
          rssFirstMb: series[0],
          rssLastMb: series[series.length - 1],
          rssMaxMb: Math.max(...series),
          firstQuarterMedianMb: median(series.slice(0, q)),
          lastQuarterMedianMb: median(series.slice(-q)),
          series,
        };
        log(`  soak ${name}: ${JSON.stringify({ ...results.soak[name], series: undefined })}`);
      }
    }
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    if (running.service && opts.cpuProf) results.servedRequests = (await scrape(running.service.internalOrigin))?.served;
    await cleanUp();
  }
  results.seconds = Math.round((Date.now() - started) / 1000);
  results.targets = evaluate(results);
  return results;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const results = await runBench(opts);
  const table = renderMarkdown(results);
  console.log(table);
  if (opts.cpuProf) {
    console.log(`Service A:\n${summariseProfiles(profileDir, { requests: results.servedRequests })}`);
    const baselineRequests = (results.served.bare ?? 0) + (results.served.proxy ?? 0);
    if (baselineRequests) console.log(`\nBaselines process (bare handler and proxy):\n${summariseProfiles(baselineProfileDir, { requests: baselineRequests })}`);
  }
  if (opts.traceGc) for (const name of SERVICES) if (fs.existsSync(path.join(traceDir, `${name}.stdout`))) console.log(summariseGcTrace(name, path.join(traceDir, `${name}.stdout`)));
  if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
  if (opts.doc) writeDoc(table);
  if (results.targets.some((t) => t.met === false && !t.variant)) process.exitCode = 2;
}

const DOC = path.join(ROOT, 'docs', 'benchmarks.md');
const START = '<!-- bench:figures:start -->';
const END = '<!-- bench:figures:end -->';

/** Replaces the figures between the markers of docs/benchmarks.md; the prose around them is kept. */
function writeDoc(table) {
  const text = fs.readFileSync(DOC, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${DOC} lacks the ${START} … ${END} markers`);
  fs.writeFileSync(DOC, `${text.slice(0, a + START.length)}\n${table}\n${text.slice(b)}`);
  log(`figures written to ${path.relative(ROOT, DOC)}`);
}

module.exports = { parseArgs, runBench, evaluate, renderMarkdown, SERVICES, BASELINES };

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
