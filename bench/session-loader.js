'use strict';
/* global fetch */
/**
 * A/B of session loaders: the service's CPU per session-carried request, for builds of the service
 * in several checkouts, measured side by side on one machine.
 *
 * Every build runs at once as `node dist/server.js` (its own Redis key prefix, the same upstream:
 * the sandbox handler of bench/servers/upstream.js), with 200 connected users each. Then rounds:
 * in each round every build in turn, in an order that rotates from round to round, serves a fixed
 * number of requests (cookies of the 200 users in turn, autocannon in this process), and its CPU
 * time (utime + stime of /proc/<pid>/stat) over that number is its µs per request. A fixed amount
 * of work, not a fixed time, so other work on the machine changes how long a measure takes more
 * than what it costs; the median over the rounds is the figure.
 *
 * Routes: `GET /api/session` (the loader and the answer, no upstream call) and
 * `GET /api/gift/list?lang=fr` (the loader, then the signed upstream call: the bench's
 * session-read scenario).
 *
 * Run after `npm run build` (and a build in each other checkout):
 *   node bench/session-loader.js --build=main=/path/to/main --build=new=. [--rounds=5] [--amount=20000]
 */
const { randomBytes } = require('node:crypto');
const path = require('node:path');
const { createClient } = require('redis');
const { runLoad, rotating } = require('./lib/load');
const { procStats, startHelper, stopHelper, startService, waitForQuiet } = require('./lib/procs');

const USERS = 200;
const ROUTES = ['/api/session', '/api/gift/list?lang=fr'];

function parseArgs(argv) {
  const value = (name, fallback) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
  const builds = argv.filter((a) => a.startsWith('--build=')).map((a) => {
    const [name, dir] = a.slice('--build='.length).split('=');
    return { name, root: path.resolve(dir) };
  });
  return {
    builds: builds.length ? builds : [{ name: 'this', root: path.join(__dirname, '..') }],
    rounds: Number(value('rounds', 5)),
    amount: Number(value('amount', 20_000)),
    connections: Number(value('connections', 20)),
    redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  };
}

async function connectUsers(origin, runId) {
  const cookies = [];
  for (let i = 0; i < USERS; i++) {
    const r = await fetch(`${origin}/api/user/clientcheckcredentials`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf': '1' },
      body: JSON.stringify({ partnerClientId: `${runId}-u${i}`, email: `u${i}@bench.example` }),
    });
    const setCookie = r.headers.get('set-cookie');
    if (r.status !== 200 || !setCookie) throw new Error(`connect answered ${r.status}: ${await r.text()}`);
    cookies.push(setCookie.split(';')[0]);
  }
  return cookies;
}

async function deletePrefix(redisUrl, prefix) {
  const client = createClient({ url: redisUrl });
  await client.connect();
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length) await client.unlink(keys);
  await client.close();
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const runId = `sl${randomBytes(4).toString('hex')}`;
  const partnerId = `bench-partner-${runId}`;
  const secret = randomBytes(32).toString('hex');
  const upstream = await startHelper('upstream.js', { BENCH_PARTNER_ID: partnerId, BENCH_PARTNER_SECRET: secret });
  const services = [];
  try {
    for (const build of opts.builds) {
      const keyPrefix = `bench:${runId}:${build.name}:`;
      const service = await startService(
        {
          NODE_ENV: 'development',
          LOG_LEVEL: 'warn',
          APM_BASE_URL: upstream.url,
          APM_PARTNER_ID: partnerId,
          APM_PARTNER_SECRET: secret,
          REDIS_URL: opts.redisUrl,
          REDIS_KEY_PREFIX: keyPrefix,
          RATE_LIMIT_ENABLED: 'false',
          COOKIE_SECURE: 'false',
          SESSION_SECRET: randomBytes(32).toString('hex'),
          DEMO_PAGE: 'false',
        },
        { root: build.root },
      );
      services.push({ ...build, service, keyPrefix, cookies: await connectUsers(service.origin, `${runId}-${build.name}`) });
    }
    const figures = {};
    for (const route of ROUTES) {
      figures[route] = Object.fromEntries(services.map((s) => [s.name, []]));
      // Warm-up: every build's JIT settled before the first measure.
      for (const s of services) await load(s, route, Math.min(5000, opts.amount), opts.connections);
      for (let round = 0; round < opts.rounds; round++) {
        const order = services.map((_, i) => services[(i + round) % services.length]);
        for (const s of order) {
          const other = await waitForQuiet({ maxCores: 0.3, maxWaitMs: 3000 });
          const before = procStats(s.service.pid).cpuMs;
          const r = await load(s, route, opts.amount, opts.connections);
          const cpuMs = procStats(s.service.pid).cpuMs - before;
          const us = Math.round((cpuMs * 1000) / r.total);
          figures[route][s.name].push(us);
          console.error(`${route} round ${round + 1} ${s.name}: ${us} µs/req (${r.rps} req/s, non-2xx ${r.non2xx}, errors ${r.errors}, other load before ${other.toFixed(2)} cores)`);
          if (r.non2xx || r.errors) throw new Error(`${s.name} answered ${r.non2xx} non-2xx and ${r.errors} errors on ${route}`);
        }
      }
    }
    const lines = ['| route | ' + services.map((s) => s.name).join(' | ') + ' |', '|---|' + services.map(() => '--:|').join('')];
    for (const route of ROUTES) lines.push(`| \`GET ${route}\` | ` + services.map((s) => `${median(figures[route][s.name])} (${figures[route][s.name].join(', ')})`).join(' | ') + ' |');
    console.log(`Service CPU, µs per request: median over ${opts.rounds} rounds of ${opts.amount} requests (each round's figure in brackets).\n`);
    console.log(lines.join('\n'));
  } finally {
    for (const s of services) await s.service.stop();
    await stopHelper(upstream);
    for (const s of services) await deletePrefix(opts.redisUrl, s.keyPrefix).catch(() => undefined);
  }
}

function load(s, route, amount, connections) {
  return runLoad({
    origin: s.service.origin,
    requests: rotating((i) => ({ method: 'GET', path: route, headers: { cookie: s.cookies[i % s.cookies.length] } })),
    connections,
    amount,
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
