'use strict';
/**
 * The baselines, in one process of their own (measured one at a time):
 * - `bare`: an Express 5 app whose handlers answer fixed JSON, the exact
 *   bodies the service answered for each scenario: the framework's ceiling.
 *   No body parsing, no middleware; `etag` and `x-powered-by` off.
 * - `proxy`: a plain pass-through proxy (http-proxy-middleware 3, keep-alive
 *   agent) to the upstream: no session, no signing, no validation. Its
 *   clients send requests already signed for the upstream.
 *
 * Started with the upstream's origin in BENCH_UPSTREAM_ORIGIN; receives
 * `{ routes: [{ method, path, body, status }] }` over IPC, answers
 * `{ ready: true, barePort, proxyPort }`; stops on the message `stop`.
 */
const http = require('node:http');
const express = require('express');
const { createProxyMiddleware } = require('http-proxy-middleware');

function listen(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function start(routes) {
  const bare = express();
  bare.disable('x-powered-by');
  bare.set('etag', false);
  for (const route of routes) {
    const answer = (_req, res) => {
      res.status(route.status ?? 200).setHeader('Content-Type', 'application/json; charset=utf-8');
      res.end(route.body);
    };
    if (route.method === 'GET') bare.get(route.path, answer);
    else bare.post(route.path, answer);
  }

  const proxy = express();
  proxy.disable('x-powered-by');
  proxy.use(
    createProxyMiddleware({
      target: process.env.BENCH_UPSTREAM_ORIGIN,
      agent: new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' }),
      xfwd: false,
    }),
  );

  const servers = [await listen(bare), await listen(proxy)];
  process.send({ ready: true, barePort: servers[0].address().port, proxyPort: servers[1].address().port });
  const stop = () => {
    for (const s of servers) {
      s.close();
      s.closeAllConnections();
    }
    process.exit(0);
  };
  process.on('message', (m) => {
    if (m === 'stop') stop();
  });
  process.on('disconnect', stop);
}

process.once('message', (m) => {
  start(m.routes).catch((err) => {
    console.error(err);
    process.exit(1);
  });
});
