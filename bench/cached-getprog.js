'use strict';
/* global fetch, Buffer, __filename, setTimeout */
/**
 * Cached GET /api/partner/getprog against a bare Express handler answering
 * the same JSON: what the service's whole path (request id, access log,
 * helmet, routing, browser guard, the per-IP rate limit in Redis, validation,
 * the cache read in Redis, ETag) costs over the least an Express server does.
 *
 * Run after `npm run build`:   node bench/cached-getprog.js [--no-rate-limits]
 * Or from another script:      const { runCachedGetprogBench } = require('./cached-getprog');
 *                              const figures = await runCachedGetprogBench({ durationSeconds: 5 });
 *
 * Both targets run in a child process (so that autocannon, here, does not
 * share their event loop): the service from dist/app.js with Redis at
 * REDIS_URL (default redis://127.0.0.1:6379) under a key prefix of its own,
 * the embedded sandbox as its upstream, access logs serialised to /dev/null,
 * and the rate limits on with a limit no run reaches (their Redis round trip
 * is part of every request in production).
 */
const { fork } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const path = require('node:path');

const CHILD_FLAG = '--serve-targets';
const ROUTE = '/api/partner/getprog?lang=fr';

/** Child: starts the service and the bare handler, reports their URLs, stops on request. */
async function serveTargets() {
  const express = require('express');
  const pino = require('pino');
  const dist = path.join(__dirname, '..', 'dist');
  const { loadSettings } = require(path.join(dist, 'config', 'load'));
  const { createApp } = require(path.join(dist, 'app'));
  const { listenService } = require(path.join(dist, 'listen'));

  const settings = loadSettings({
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: `bench:${randomBytes(6).toString('hex')}:`,
    COOKIE_SECURE: 'false',
    DEMO_PAGE: 'false',
    RATE_LIMIT_IP_MAX: '10000000',
    RATE_LIMIT_ENABLED: process.argv.includes('--no-rate-limits') ? 'false' : 'true',
  });
  const app = await createApp(settings, { logDestination: pino.destination({ dest: '/dev/null', sync: false }) });
  if (!app.store.kind || app.store.kind !== 'redis') throw new Error('the benchmark needs Redis');
  await app.store.ping();
  const running = await listenService(app, { port: 0, internalPort: 0, host: '127.0.0.1' });

  // Warm the cache, and take the exact answer for the bare handler.
  const first = await fetch(`${running.publicUrl}${ROUTE}`);
  if (first.status !== 200) throw new Error(`the service answered ${first.status} to ${ROUTE}`);
  const body = await first.text();

  const bare = express();
  bare.disable('x-powered-by');
  bare.set('etag', false);
  bare.get('/api/partner/getprog', (_req, res) => {
    res.status(200).setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(body);
  });
  const bareServer = await new Promise((resolve) => {
    const server = bare.listen(0, '127.0.0.1', () => resolve(server));
  });
  bareServer.keepAliveTimeout = 65_000;

  const stop = async () => {
    await app.store.deleteByPrefix(settings.redis.keyPrefix).catch(() => 0);
    await new Promise((resolve) => bareServer.close(resolve));
    bareServer.closeAllConnections();
    await running.stop(1000);
    process.exit(0);
  };
  process.on('message', (m) => {
    if (m === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());
  process.send({
    serviceUrl: `${running.publicUrl}${ROUTE}`,
    bareUrl: `http://127.0.0.1:${bareServer.address().port}${ROUTE}`,
    bodyBytes: Buffer.byteLength(body),
  });
}

function startTargets(rateLimits) {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [CHILD_FLAG, ...(rateLimits ? [] : ['--no-rate-limits'])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (urls) => resolve({ child, ...urls }));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the target process exited (${code}) before it was ready`)));
  });
}

async function measure(url, { durationSeconds, connections }) {
  const autocannon = require('autocannon');
  // A short warm-up (JIT, keep-alive sockets), not measured.
  await autocannon({ url, connections, duration: 1 });
  const r = await autocannon({ url, connections, duration: durationSeconds });
  return {
    requestsPerSecond: Math.round(r.requests.average),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

/**
 * Runs both measurements one after the other and returns the figures:
 * `{ service, bare, ratio, durationSeconds, connections, rateLimits, bodyBytes }`,
 * where `ratio` is the service's requests per second over the bare handler's.
 * Options: `durationSeconds` (5), `connections` (50), `rateLimits` (true; false
 * measures the service without the per-IP limit's Redis round trip).
 */
async function runCachedGetprogBench(options = {}) {
  const durationSeconds = options.durationSeconds ?? 5;
  const connections = options.connections ?? 50;
  const rateLimits = options.rateLimits ?? true;
  const targets = await startTargets(rateLimits);
  try {
    const service = await measure(targets.serviceUrl, { durationSeconds, connections });
    const bare = await measure(targets.bareUrl, { durationSeconds, connections });
    const ratio = Number((service.requestsPerSecond / bare.requestsPerSecond).toFixed(3));
    return { service, bare, ratio, durationSeconds, connections, rateLimits, bodyBytes: targets.bodyBytes };
  } finally {
    targets.child.removeAllListeners('exit');
    targets.child.send('stop');
    await new Promise((resolve) => {
      targets.child.once('exit', resolve);
      setTimeout(() => {
        targets.child.kill('SIGKILL');
        resolve();
      }, 5000).unref();
    });
  }
}

module.exports = { runCachedGetprogBench };

if (require.main === module) {
  if (process.argv.includes(CHILD_FLAG)) {
    serveTargets().catch((err) => {
      console.error(err);
      process.exit(1);
    });
  } else {
    runCachedGetprogBench({ rateLimits: !process.argv.includes('--no-rate-limits') })
      .then((f) => {
        const row = (name, m) =>
          `${name.padEnd(28)} ${String(m.requestsPerSecond).padStart(8)} req/s   p50 ${String(m.p50Ms).padStart(4)} ms   p99 ${String(m.p99Ms).padStart(4)} ms   (${m.total} requests, ${m.non2xx} non-2xx, ${m.errors} errors)`;
        console.log(`cached GET ${ROUTE}: ${f.connections} connections, ${f.durationSeconds} s each, ${f.bodyBytes}-byte body, rate limits ${f.rateLimits ? 'on' : 'off'}`);
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
}
