'use strict';
/* global URL, setTimeout */
/**
 * Load generation with autocannon, in the runner's process (never in a
 * process it measures). Latency percentiles are computed here from every
 * 2xx response time (autocannon's own histogram keeps whole milliseconds,
 * too coarse for a 3 ms budget).
 */
const http = require('node:http');
const { performance } = require('node:perf_hooks');
const autocannon = require('autocannon');

/**
 * A rotating source of requests: each request autocannon sends takes the
 * next of `make(i)` (i = 0, 1, 2, …): rotating cookies, fresh param1, signed
 * bodies. Every target of a scenario gets the same kind of source, so the
 * load generator spends about the same per request whatever it measures.
 */
function rotating(make) {
  let i = 0;
  return [{ setupRequest: (req) => ({ ...req, ...make(i++) }) }];
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

/**
 * Runs one load and returns `{ rps, p50, p90, p99, max, total, ok, non2xx, errors, seconds, statuses }`
 * (latencies in ms). Options: `origin`, `requests` (autocannon requests,
 * e.g. from `rotating`), `connections`, `duration` (s) or `amount`,
 * `overallRate` (req/s across connections: a fixed offered load).
 */
async function runLoad({ origin, requests, connections, duration, amount, overallRate }) {
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  const statuses = {};
  const started = process.hrtime.bigint();
  const instance = autocannon({
    url: origin,
    connections,
    pipelining: 1,
    ...(amount ? { amount } : { duration }),
    ...(overallRate ? { overallRate } : {}),
    ...(requests ? { requests } : {}),
    timeout: 10,
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    if (statusCode < 200 || statusCode > 299) return;
    if (n === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[n++] = responseTime;
  });
  const result = await instance;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const sorted = latencies.subarray(0, n).sort();
  const total = result.requests.total;
  return {
    rps: Math.round(total / result.duration),
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: n ? sorted[n - 1] : NaN,
    total,
    ok: n,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    seconds,
    statuses,
  };
}

/** The next request of an autocannon `requests` list (static ones in turn, or the rotating source). */
function requestSource(requests) {
  if (typeof requests[0].setupRequest === 'function') return () => requests[0].setupRequest({});
  let i = 0;
  return () => requests[i++ % requests.length];
}

/** Request headers without a Content-Length: node:http computes it from the body it sends. */
function withoutLength(headers = {}) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() !== 'content-length') out[name] = value;
  return out;
}

/**
 * A paced load: `rate` requests per second spread evenly over time (one
 * every 1/rate s, not autocannon's burst at the top of each second), over
 * up to `connections` keep-alive connections. Each latency runs from the
 * request's scheduled time, so a stall delays the requests behind it and is
 * counted (no coordinated omission). Same result shape as `runLoad`.
 */
async function runPaced({ origin, requests, connections, rate, duration }) {
  const url = new URL(origin);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, scheduling: 'fifo' });
  const next = requestSource(requests);
  const send = (req, scheduled, record) =>
    new Promise((resolve) => {
      const r = http.request(
        { agent, host: url.hostname, port: url.port, method: req.method ?? 'GET', path: req.path, headers: withoutLength(req.headers) },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => {
            if (record) record(res.statusCode, performance.now() - scheduled);
            resolve();
          });
        },
      );
      r.on('error', () => {
        if (record) record(0, NaN);
        resolve();
      });
      // A request that never ends would hold the whole run: counted as an error after 10 s.
      r.setTimeout(10_000, () => r.destroy(new Error('no answer within 10 s')));
      r.end(req.body);
    });
  // Open every connection first.
  await Promise.all(Array.from({ length: connections }, () => send(next(), 0)));

  const total = Math.round(rate * duration);
  const latencies = new Float64Array(total);
  const statuses = {};
  let n = 0;
  let errors = 0;
  const record = (status, ms) => {
    if (status === 0) errors++;
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status >= 200 && status <= 299) latencies[n++] = ms;
  };
  const interval = 1000 / rate;
  const t0 = performance.now() + 20;
  const pending = [];
  let k = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (k < total && t0 + k * interval <= now) pending.push(send(next(), t0 + k++ * interval, record));
      if (k < total) setTimeout(tick, Math.max(0, Math.min(1, t0 + k * interval - now)));
      else resolve();
    };
    setTimeout(tick, 20);
  });
  await Promise.all(pending);
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  const sorted = latencies.subarray(0, n).sort();
  return {
    rps: Math.round(total / seconds),
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: n ? sorted[n - 1] : NaN,
    total,
    ok: n,
    non2xx: total - n - errors,
    errors,
    seconds,
    statuses,
  };
}

module.exports = { runLoad, runPaced, rotating };
