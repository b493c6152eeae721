'use strict';
/**
 * Cached GET /api/partner/getprog against a bare Express handler answering
 * the same JSON: what the service's whole path (request id, access log,
 * helmet, routing, browser guard, the per-IP rate limit in Redis, validation,
 * the cache read in Redis, ETag) costs over the least an Express server does.
 *
 * One scenario of `npm run bench` (bench/run.js), run on its own: the same
 * processes (the service as `node dist/server.js` with Redis, the sandbox
 * upstream, the bare handler), the same load generator and figures. By
 * default the rate limits are on with ceilings no run reaches, so that their
 * Redis round trip is part of every request as in production.
 *
 * Run after `npm run build`:   node bench/cached-getprog.js [--no-rate-limits]
 * Or from another script:      const { runCachedGetprogBench } = require('./cached-getprog');
 *                              const figures = await runCachedGetprogBench({ durationSeconds: 5 });
 */
const { parseArgs, runBench } = require('./run');

const pick = (m) => ({ requestsPerSecond: m.rps, p50Ms: m.p50, p99Ms: m.p99, total: m.total, non2xx: m.non2xx, errors: m.errors });

/**
 * Runs both measurements in alternation (`rounds`, 3) and returns the figures (medians over the rounds):
 * `{ service, bare, ratio, durationSeconds, connections, rateLimits, bodyBytes }`,
 * where `ratio` is the service's requests per second over the bare handler's.
 * Options: `durationSeconds` (5), `connections` (50), `rateLimits` (true; false
 * measures the service without the per-IP limit's Redis round trip).
 */
async function runCachedGetprogBench(options = {}) {
  const durationSeconds = options.durationSeconds ?? 5;
  const connections = options.connections ?? 50;
  const rateLimits = options.rateLimits ?? true;
  const results = await runBench({
    ...parseArgs([]),
    only: ['getprog'],
    targets: ['service', 'bare'],
    duration: durationSeconds,
    connections,
    rateLimits,
    rounds: options.rounds ?? 3,
    soak: 0,
    logCompare: false,
  });
  const row = results.scenarios.getprog.saturated;
  return {
    service: pick(row.service),
    bare: pick(row.bare),
    // Taken within each round (the two measures seconds apart), then the median over the rounds.
    ratio: Number(results.scenarios.getprog.ratios['service/bare'].median.toFixed(3)),
    durationSeconds,
    connections,
    rateLimits,
    bodyBytes: results.bodyBytes.getprog,
  };
}

module.exports = { runCachedGetprogBench };

if (require.main === module) {
  runCachedGetprogBench({ rateLimits: !process.argv.includes('--no-rate-limits') })
    .then((f) => {
      const row = (name, m) =>
        `${name.padEnd(28)} ${String(m.requestsPerSecond).padStart(8)} req/s   p50 ${m.p50Ms.toFixed(2).padStart(6)} ms   p99 ${m.p99Ms.toFixed(2).padStart(6)} ms   (${m.total} requests, ${m.non2xx} non-2xx, ${m.errors} errors)`;
      console.log(`cached GET /api/partner/getprog?lang=fr: ${f.connections} connections, ${f.durationSeconds} s each, ${f.bodyBytes}-byte body, rate limits ${f.rateLimits ? 'on' : 'off'}`);
      console.log(row('service (cached, Redis)', f.service));
      console.log(row('bare Express handler', f.bare));
      console.log(`ratio service/bare: ${f.ratio}`);
      if (f.service.non2xx || f.service.errors) process.exitCode = 1;
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
