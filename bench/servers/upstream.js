'use strict';
/**
 * The benchmark's upstream, run as its own process: the sandbox simulator's
 * handler (dist/sandbox, its real state and its strict signature checks) on a
 * plain node:http server with long keep-alive. Every target measured (the
 * service, the plain proxy, direct calls) meets this same upstream.
 *
 * Environment: BENCH_PARTNER_ID, BENCH_PARTNER_SECRET. Reports
 * `{ ready: true, url, port }` over IPC; stops on the message `stop`.
 */
const http = require('node:http');
const path = require('node:path');

const { createSandboxHandler, DEFAULT_BASE_PATH } = require(path.join(__dirname, '..', '..', 'dist', 'sandbox'));

const sandbox = createSandboxHandler({ partners: [{ id: process.env.BENCH_PARTNER_ID, secret: process.env.BENCH_PARTNER_SECRET }] });
const server = http.createServer(sandbox.handler);
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.send({ ready: true, port, url: `http://127.0.0.1:${port}${DEFAULT_BASE_PATH}` });
});

function stop() {
  sandbox.dispose();
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('message', (m) => {
  if (m === 'stop') stop();
});
process.on('disconnect', stop);
