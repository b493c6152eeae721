'use strict';
/* global fetch, Buffer */
/**
 * `npm run bench`: the service against its baselines, in one run on this
 * machine. Starts, each in its own process:
 * - the upstream: the sandbox simulator (dist/sandbox), strict signature checks;
 * - the service: `node dist/server.js` with Redis, pointed at that upstream;
 * - the baselines: a bare Express handler answering the service's exact JSON
 *   (the framework's ceiling) and a plain keep-alive pass-through proxy
 *   (http-proxy-middleware) to the upstream; and the upstream called directly.
 * autocannon runs here, in the runner, never inside a process it measures.
 *
 * For each scenario (cached getprog, session-carried read, mutation, connect)
 * and each target: requests per second and p50/p99 at saturation (50
 * connections), then the service and the direct upstream at one same paced
 * load (a quarter of the service's flat-out rate) for the latency the
 * service adds; peak RSS and CPU per request of every process. Then a soak
 * of the session-carried read (RSS every second), and the cost of the
 * access log (LOG_LEVEL info against warn).
 *
 * Flags: --quick (short runs), --only=getprog,session-read,…, --connections=50,
 * --duration=10 (s per measure), --soak=200000 (requests; 0 skips),
 * --no-log-compare, --json=FILE, --doc (rewrites the figures in
 * docs/benchmarks.md), --cpu-prof (profiles the service; files in
 * bench/profiles/), --log-level=info, --targets=service,bare,proxy,direct,
 * --node-args='--max-semi-space-size=…' (flags of the service's node),
 * --node-options='…' (the service's NODE_OPTIONS; the Dockerfile's by default),
 * --rate-limits (the limits on, at ceilings no run reaches), --paced-share=0.25
 * (the paced load, as a share of the service's flat-out rate),
 * --service-root=DIR (the service built in another checkout: A/B runs).
 * Exit code 2 when a target of the issue is missed, 130 when interrupted.
 */
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createClient } = require('redis');
const { runLoad, runPaced } = require('./lib/load');
const { sampleProcesses, startHelper, stopHelper, startService, waitForQuiet, ROOT } = require('./lib/procs');
const { signedRequest } = require('./lib/sign');
const { summariseProfiles } = require('./lib/profile');
const { scenarios } = require('./scenarios');

const TARGETS = ['service', 'bare', 'proxy', 'direct'];
const profileDir = path.join(ROOT, 'bench', 'profiles');
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
  const quick = flag('quick');
  return {
    quick,
    only: value('only', '') ? value('only', '').split(',') : scenarios.map((s) => s.id),
    targets: value('targets', '') ? value('targets', '').split(',') : TARGETS,
    connections: Number(value('connections', 50)),
    duration: Number(value('duration', quick ? 3 : 10)),
    warmup: quick ? 1 : 2,
    soak: Number(value('soak', quick ? 20_000 : 200_000)),
    logCompare: !flag('no-log-compare') && !quick,
    json: value('json', ''),
    doc: flag('doc'),
    cpuProf: flag('cpu-prof'),
    logLevel: value('log-level', 'info'),
    rateLimits: flag('rate-limits'),
    pacedShare: Number(value('paced-share', 0.25)),
    serviceRoot: value('service-root', ROOT),
    nodeOptions: value('node-options', imageNodeOptions()),
    nodeArgs: value('node-args', '') ? value('node-args', '').split(' ') : [],
    redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  };
}

const log = (...a) => console.error(...a);

/** Connects `n` users through the service; returns their session cookies. */
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

/** Requests the service answered on its public listener (its own metrics). */
async function servedRequests(internalOrigin) {
  const text = await (await fetch(`${internalOrigin}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^miles_bff_http_request_duration_seconds_count\{[^}]*listener="public"[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
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

function machine(redisVersion) {
  const cpus = os.cpus();
  return {
    cpu: `${cpus.length} × ${cpus[0]?.model ?? 'unknown'}`,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    redis: redisVersion ?? 'unknown',
  };
}

const fmt = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);

/**
 * One benchmark run with `opts` (see `parseArgs`; every field needed): starts
 * the processes, measures, stops them, deletes the run's Redis keys, and
 * returns the figures (`renderMarkdown` makes the tables).
 */
async function runBench(opts) {
  const runId = `b${randomBytes(4).toString('hex')}`;
  const keyPrefix = `bench:${runId}:`;
  const partnerId = `bench-partner-${runId}`;
  const secret = randomBytes(32).toString('hex');
  const sessionSecret = randomBytes(32).toString('hex');
  const redis = await redisPid(opts.redisUrl);
  const started = Date.now();
  const softDeadline = started + (opts.quick ? 2 : 7) * 60_000;
  log(`bench ${runId}: ${opts.quick ? 'quick, ' : ''}${opts.connections} connections, ${opts.duration} s per measure, scenarios ${opts.only.join(', ')}`);

  const helpers = {};
  let service;
  const serviceEnv = (logLevel) => ({
    NODE_ENV: 'development',
    LOG_LEVEL: logLevel,
    APM_BASE_URL: helpers.upstream.url,
    APM_PARTNER_ID: partnerId,
    APM_PARTNER_SECRET: secret,
    REDIS_URL: opts.redisUrl,
    REDIS_KEY_PREFIX: keyPrefix,
    // The limits (600 requests per IP per minute) would refuse a benchmark from one IP within a second:
    // off, or (--rate-limits) on with ceilings no run reaches, so that their Redis round trips are measured.
    RATE_LIMIT_ENABLED: String(opts.rateLimits),
    ...(opts.rateLimits ? { RATE_LIMIT_IP_MAX: '10000000', RATE_LIMIT_CONNECT_MAX: '1000000', RATE_LIMIT_MUTATION_MAX: '1000000' } : {}),
    COOKIE_SECURE: 'false',
    SESSION_SECRET: sessionSecret,
    DEMO_PAGE: 'false',
    // As the image runs it: the Dockerfile's NODE_OPTIONS (the heap bound), unless --node-options says otherwise.
    NODE_OPTIONS: opts.nodeOptions,
  });
  const serviceOptions = { root: path.resolve(opts.serviceRoot), nodeArgs: [...opts.nodeArgs, ...(opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])] };
  const results = { runId, machine: machine(redis.version), options: opts, scenarios: {}, soak: undefined, logging: undefined };
  /** Stops every process this run started and deletes its Redis keys; also on Ctrl-C. */
  let cleaning;
  let redisClient;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      if (service) {
        const code = await service.stop();
        if (code !== 0) log(`the service exited with ${code}:\n${service.stderr()}`);
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
    service = await startService(serviceEnv(opts.logLevel), serviceOptions);
    const ctx = { partnerId, secret, basePath: '/2.0/', runId };
    ctx.serviceUsers = await connectServiceUsers(service.origin, runId, SERVICE_USERS);
    ctx.upstreamUsers = await connectUpstreamUsers(upstreamOrigin, ctx, SERVICE_USERS);

    const chosen = scenarios.filter((s) => opts.only.includes(s.id));
    const routes = [];
    for (const s of chosen) routes.push({ ...s.bareRoute, body: await sampleAnswer(service.origin, s.serviceRequests(ctx)) });
    results.bodyBytes = Object.fromEntries(chosen.map((s, i) => [s.id, Buffer.byteLength(routes[i].body)]));
    helpers.baselines = await startHelper('baselines.js', { BENCH_UPSTREAM_ORIGIN: upstreamOrigin }, { routes });
    const origins = {
      service: service.origin,
      bare: `http://127.0.0.1:${helpers.baselines.barePort}`,
      proxy: `http://127.0.0.1:${helpers.baselines.proxyPort}`,
      direct: upstreamOrigin,
    };
    redisClient = createClient({ url: opts.redisUrl });
    await redisClient.connect();
    const pids = () => ({ service: service.pid, upstream: helpers.upstream.child.pid, baselines: helpers.baselines.child.pid, redis: redis.pid, loadgen: process.pid });

    /**
     * Warm-up (not measured), then one measured load with every process sampled: flat out
     * (autocannon), or paced at `rate` requests per second (runPaced).
     */
    async function measure(target, scenario, { rate, duration = opts.duration } = {}) {
      const requests = () => (target === 'service' || target === 'bare' ? scenario.serviceRequests(ctx) : scenario.upstreamRequests(ctx));
      const load = (seconds) =>
        rate
          ? runPaced({ origin: origins[target], requests: requests(), connections: opts.connections, rate, duration: seconds })
          : runLoad({ origin: origins[target], requests: requests(), connections: opts.connections, duration: seconds });
      // On a shared machine other work steals CPU from the measure: wait for quiet, and measure
      // again (at most twice) when other work still took more than a fifth of a core.
      // Past the soft deadline (the whole run should stay within about 10 minutes) there is no more waiting.
      const late = Date.now() > softDeadline;
      let best;
      for (let attempt = 1; attempt <= (late ? 1 : 3); attempt++) {
        const quiet = await waitForQuiet({ maxWaitMs: late ? 1000 : opts.quick ? 5000 : 20_000 });
        await load(opts.warmup);
        const commandsBefore = await redisCommandCounts(redisClient);
        const sampler = sampleProcesses(pids());
        const r = await load(duration);
        const procs = sampler.stop();
        const commandsAfter = await redisCommandCounts(redisClient);
        // Redis commands per request (every client of this Redis counts, the runner's INFO too: a floor of noise).
        const redisPerRequest = {};
        for (const [name, calls] of Object.entries(commandsAfter)) {
          const per = (calls - (commandsBefore[name] ?? 0) - (name === 'info' ? 1 : 0)) / Math.max(1, r.total);
          if (per >= 0.005) redisPerRequest[name] = Math.round(per * 100) / 100;
        }
        const cpuUsPerRequest = {};
        for (const name of Object.keys(pids())) cpuUsPerRequest[name] = Math.round((procs[name].cpuMs * 1000) / Math.max(1, r.total));
        const figures = { ...r, peakRssMb: procs.service.peakRssMb, cpuUsPerRequest, redisPerRequest, otherCores: Math.round(procs.otherCores * 100) / 100, quietBefore: Math.round(quiet * 100) / 100, attempt };
        if (!best || figures.otherCores < best.otherCores) best = figures;
        if (figures.otherCores <= 0.2) break;
        log(`  (${scenario.id} ${target}: other work took ${figures.otherCores} cores during the measure; measuring again)`);
      }
      const r = best;
      const figures = best;
      const bad = r.non2xx || r.errors ? `  !! ${r.non2xx} non-2xx ${JSON.stringify(r.statuses)}, ${r.errors} errors` : '';
      log(
        `  ${scenario.id.padEnd(13)} ${target.padEnd(8)}${rate ? ` @${rate}/s` : ''}: ${String(r.rps).padStart(6)} req/s  p50 ${fmt(r.p50)}  p99 ${fmt(r.p99)} ms  service RSS ${r.peakRssMb} MB  cpu µs/req ${JSON.stringify(r.cpuUsPerRequest)}  redis/req ${JSON.stringify(r.redisPerRequest)}  other load ${r.otherCores} cores${bad}`,
      );
      return figures;
    }

    for (const scenario of chosen) {
      const row = { title: scenario.title, saturated: {}, fixedRate: {} };
      for (const target of opts.targets) row.saturated[target] = await measure(target, scenario);
      if (row.saturated.service && row.saturated.direct) {
        // Same offered load for the service and the direct upstream: the latency the service adds, not
        // queueing. A quarter of the service's flat-out rate: the paced load generator (node:http) costs
        // several times autocannon's CPU per request, and on two cores half the rate already saturates.
        const rate = Math.max(100, Math.round((row.saturated.service.rps * opts.pacedShare) / 100) * 100);
        row.fixedRate.rate = rate;
        for (const target of ['service', 'direct']) row.fixedRate[target] = await measure(target, scenario, { rate });
      }
      results.scenarios[scenario.id] = row;
    }

    const reads = scenarios.find((s) => s.id === 'session-read');
    if (opts.soak > 0) {
      log(`  soak: ${opts.soak} requests of the session-carried read, service RSS every second`);
      const sampler = sampleProcesses({ service: service.pid }, { intervalMs: 1000, keepSeries: true });
      const r = await runLoad({ origin: service.origin, requests: reads.serviceRequests(ctx), connections: opts.connections, amount: opts.soak });
      const series = sampler.stop().service.series.map(([, mb]) => mb);
      const q = Math.max(1, Math.floor(series.length / 4));
      const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      results.soak = {
        requests: r.total,
        seconds: Math.round(r.seconds),
        rps: r.rps,
        p99: r.p99,
        non2xx: r.non2xx,
        errors: r.errors,
        rssFirstMb: series[0],
        rssLastMb: series[series.length - 1],
        rssMaxMb: Math.max(...series),
        firstQuarterMedianMb: median(series.slice(0, q)),
        lastQuarterMedianMb: median(series.slice(-q)),
        series,
      };
      log(`  soak: ${JSON.stringify({ ...results.soak, series: undefined })}`);
    }

    if (opts.logCompare) {
      // The same reads with the access log off (LOG_LEVEL=warn): what one log line per request costs.
      const getprog = scenarios.find((s) => s.id === 'getprog');
      const withInfo = { getprog: results.scenarios.getprog?.saturated.service, 'session-read': results.scenarios['session-read']?.saturated.service };
      await service.stop();
      service = await startService(serviceEnv('warn'), serviceOptions);
      origins.service = service.origin;
      results.logging = { info: withInfo, warn: { getprog: await measure('service', getprog), 'session-read': await measure('service', reads) } };
    }
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    if (service && opts.cpuProf) results.servedRequests = await servedRequests(service.internalOrigin).catch(() => undefined);
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
  if (opts.cpuProf) console.log(summariseProfiles(profileDir, { requests: results.servedRequests }));
  if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
  if (opts.doc) writeDoc(table);
  if (results.targets.some((t) => t.met === false)) process.exitCode = 2;
}

/** The issue's targets, from the figures of this run. */
function evaluate(results) {
  const s = results.scenarios;
  const out = [];
  const add = (name, value, limit, met, note) => out.push({ name, value, limit, met, note });
  if (s.getprog?.saturated.service && s.getprog.saturated.bare) {
    const r = ratio(s.getprog.saturated.service.rps, s.getprog.saturated.bare.rps);
    add('cached getprog ≥ 0.7× bare Express', `${fmt(r)}×`, '≥ 0.70×', r >= 0.7);
  }
  const read = s['session-read'];
  if (read?.saturated.service && read.saturated.proxy) {
    const r = ratio(read.saturated.service.rps, read.saturated.proxy.rps);
    add('session-carried read ≥ 0.6× plain proxy', `${fmt(r)}×`, '≥ 0.60×', r >= 0.6);
  }
  if (read?.fixedRate.service) {
    const row = read;
    const added = row.fixedRate.service.p99 - row.fixedRate.direct.p99;
    add(`p99 added over direct upstream, session read, 50 connections at ${row.fixedRate.rate} req/s`, `${fmt(added)} ms`, '≤ 3 ms', added <= 3);
    const saturatedAdded = row.saturated.service.p99 - row.saturated.direct.p99;
    add('p99 added over direct upstream, session read, 50 connections at saturation (each at its own maximum rate)', `${fmt(saturatedAdded)} ms`, '≤ 3 ms', saturatedAdded <= 3, 'queueing: each target runs flat out, so this restates the throughput gap (Little\'s law)');
  }
  if (s.mutation?.fixedRate.service) {
    const row = s.mutation;
    const added = row.fixedRate.service.p99 - row.fixedRate.direct.p99;
    add(`p99 added over direct upstream, mutation, 50 connections at ${row.fixedRate.rate} req/s`, `${fmt(added)} ms`, '≤ 3 ms', added <= 3);
  }
  const peaks = Object.values(s).flatMap((row) => [row.saturated.service?.peakRssMb, row.fixedRate.service?.peakRssMb]).filter(Number.isFinite);
  if (results.soak) peaks.push(results.soak.rssMaxMb);
  if (peaks.length) {
    const peak = Math.max(...peaks);
    add('service RSS under load', `${fmt(peak, 1)} MB`, '≤ 200 MB', peak <= 200);
  }
  if (results.soak) {
    const k = results.soak;
    const growth = k.lastQuarterMedianMb - k.firstQuarterMedianMb;
    add(`RSS flat over a ${k.requests}-request soak (median of last quarter − first quarter)`, `${fmt(growth, 1)} MB`, '≤ 10 MB', growth <= 10 && !k.non2xx && !k.errors);
  }
  return out;
}

function renderMarkdown(results) {
  const lines = [];
  const m = results.machine;
  lines.push(`Run \`${results.runId}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${results.seconds} s in all.`);
  lines.push(`Machine: ${m.cpu}, ${m.memoryGb} GB, ${m.os}; Node ${m.node}; Redis ${m.redis}.`);
  const o = results.options;
  lines.push(`Command: \`npm run bench${o.quick ? ' -- --quick' : ''}\` (${o.connections} connections, ${o.duration} s per measure after ${o.warmup} s of warm-up; service LOG_LEVEL=${o.logLevel}, RATE_LIMIT_ENABLED=${o.rateLimits}, NODE_OPTIONS=${o.nodeOptions || '(none)'}).`);
  lines.push('');
  lines.push(`Flat out, ${o.connections} connections:`);
  lines.push('');
  lines.push('| scenario | target | req/s | p50 ms | p99 ms | service peak RSS MB | service ÷ target req/s | other load, cores |');
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|');
  for (const [id, row] of Object.entries(results.scenarios)) {
    const svc = row.saturated.service;
    for (const t of TARGETS.filter((x) => row.saturated[x])) {
      const f = row.saturated[t];
      const rss = t === 'service' ? fmt(f.peakRssMb, 1) : '';
      lines.push(`| ${t === 'service' ? id : ''} | ${t} | ${f.rps} | ${fmt(f.p50)} | ${fmt(f.p99)} | ${rss} | ${t === 'service' ? '' : `${fmt(ratio(svc.rps, f.rps))}×`} | ${fmt(f.otherCores)} |`);
    }
  }
  lines.push('');
  lines.push(`Latency the service adds over the direct upstream at one same load: requests paced evenly at ${Math.round(o.pacedShare * 100)} % of the service's flat-out rate, over up to ${o.connections} keep-alive connections, timed from their scheduled start:`);
  lines.push('');
  lines.push('| scenario | rate req/s | service p50 | direct p50 | added p50 | service p99 | direct p99 | added p99 ms | service peak RSS MB |');
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const [id, row] of Object.entries(results.scenarios)) {
    if (!row.fixedRate.service) continue;
    const s = row.fixedRate.service;
    const d = row.fixedRate.direct;
    lines.push(`| ${id} | ${row.fixedRate.rate} | ${fmt(s.p50)} | ${fmt(d.p50)} | ${fmt(s.p50 - d.p50)} | ${fmt(s.p99)} | ${fmt(d.p99)} | ${fmt(s.p99 - d.p99)} | ${fmt(s.peakRssMb, 1)} |`);
  }
  lines.push('');
  lines.push('CPU time per request, µs, by process (saturated runs; on 2 cores every process competes with the others):');
  lines.push('');
  lines.push('| scenario | target | service | upstream | proxy/bare | redis | load generator | Redis commands per request |');
  lines.push('|---|---|--:|--:|--:|--:|--:|---|');
  for (const [id, row] of Object.entries(results.scenarios)) {
    for (const t of TARGETS.filter((x) => row.saturated[x])) {
      const c = row.saturated[t].cpuUsPerRequest;
      const commands = t === 'service' ? Object.entries(row.saturated[t].redisPerRequest ?? {}).map(([k, v]) => `${k} ${v}`).join(', ') : '';
      lines.push(`| ${t === 'service' ? id : ''} | ${t} | ${c.service} | ${c.upstream} | ${c.baselines} | ${c.redis ?? '–'} | ${c.loadgen} | ${commands} |`);
    }
  }
  if (results.soak) {
    const k = results.soak;
    lines.push('');
    lines.push(
      `Soak: ${k.requests} session-carried reads in ${k.seconds} s (${k.rps} req/s, p99 ${fmt(k.p99)} ms, ${k.non2xx} non-2xx, ${k.errors} errors); service RSS first ${k.rssFirstMb} MB, last ${k.rssLastMb} MB, max ${k.rssMaxMb} MB; median of the first quarter ${k.firstQuarterMedianMb} MB, of the last ${k.lastQuarterMedianMb} MB.`,
    );
  }
  if (results.logging) {
    lines.push('');
    lines.push('Access log cost (service restarted with LOG_LEVEL=warn: no line per request):');
    lines.push('');
    lines.push('| scenario | info req/s | warn req/s | info p99 | warn p99 | service CPU µs/req info → warn |');
    lines.push('|---|--:|--:|--:|--:|--:|');
    for (const id of Object.keys(results.logging.warn)) {
      const i = results.logging.info[id];
      const w = results.logging.warn[id];
      if (!i || !w) continue;
      lines.push(`| ${id} | ${i.rps} | ${w.rps} | ${fmt(i.p99)} | ${fmt(w.p99)} | ${i.cpuUsPerRequest.service} → ${w.cpuUsPerRequest.service} |`);
    }
  }
  lines.push('');
  lines.push('| target | this run | limit | met |');
  lines.push('|---|--:|--:|---|');
  for (const t of results.targets) lines.push(`| ${t.name}${t.note ? ` (${t.note})` : ''} | ${t.value} | ${t.limit} | ${t.met ? 'yes' : '**no**'} |`);
  return lines.join('\n');
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

module.exports = { parseArgs, runBench, evaluate, renderMarkdown };

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
