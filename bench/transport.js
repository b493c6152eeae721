'use strict';
/* global Buffer, URL, __filename */
/**
 * CPU per upstream call of three clients over the same keep-alive exchange:
 * node:http alone (the floor), axios as `axios.create()` with its stock
 * Node adapter (every request merged against all of axios' defaults), and
 * the service's transport (`dist/upstream/http-transport.js`: an axios
 * instance with only the options it uses and a lean node:http adapter).
 * Each client in its own child process, against one upstream process
 * answering a fixed 660-byte envelope; rounds alternate the clients so that
 * a change of the machine's speed touches all of them alike.
 *
 * Run after `npm run build`:   node bench/transport.js [--calls=20000] [--rounds=3]
 */
const { fork } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const IN_FLIGHT = 50;
const ANSWER = Buffer.from(
  JSON.stringify({
    errorCode: 0,
    errorMsg: '',
    data: { gifts: Array.from({ length: 6 }, (_, i) => ({ giftId: `g${i}`, name: `Gift number ${i}`, cost: 100 * i, stock: 5, affordable: i < 3 })) },
  }).padEnd(660, ' '),
);
const BODY = JSON.stringify({ lang: 'fr' });
const HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Request-Id': 'bench', 'X-Signature': 'x'.repeat(400) };

/** The clients, each built in the child that measures it. */
const clients = {
  'node:http': (base) => {
    const url = new URL(base);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256, scheduling: 'lifo' });
    return (p) =>
      new Promise((resolve, reject) => {
        const req = http.request({ agent, hostname: url.hostname, port: url.port, method: 'POST', path: `${url.pathname}${p}`, headers: { ...HEADERS, 'Content-Length': Buffer.byteLength(BODY) } }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        });
        req.on('error', reject);
        req.end(BODY);
      });
  },
  'axios.create, stock adapter': (base) => {
    const axios = require('axios');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256, scheduling: 'lifo' });
    const client = axios.create({
      baseURL: base,
      timeout: 5000,
      httpAgent: agent,
      proxy: false,
      maxRedirects: 0,
      responseType: 'arraybuffer',
      maxContentLength: 8 << 20,
      transformRequest: [(d) => d],
      transformResponse: [(d) => d],
      validateStatus: () => true,
    });
    return async (p) => Buffer.from((await client.post(p, BODY, { headers: { ...HEADERS } })).data).toString('utf8');
  },
  'service transport (axios, lean adapter)': (base) => {
    const { createHttpTransport } = require(path.join(ROOT, 'dist', 'upstream', 'http-transport.js'));
    const transport = createHttpTransport({ baseUrl: base, timeoutMs: 5000, maxSockets: 256, maxAnswerBytes: 8 << 20 });
    return async (p) => (await transport.post(p, BODY, HEADERS)).text;
  },
};

async function measureInChild(name, base, calls) {
  const call = clients[name](base);
  const run = async (n) => {
    let left = n;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (left-- > 0) {
          const text = await call('gift/list');
          if (text.length !== ANSWER.length) throw new Error(`${name}: answer of ${text.length} bytes`);
        }
      }),
    );
  };
  await run(Math.min(5000, calls)); // warm-up: JIT, sockets
  const cpu = process.cpuUsage();
  await run(calls);
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / calls;
}

if (process.argv[2] === '--child') {
  process.on('message', async ({ name, base, calls }) => {
    process.send({ usPerCall: await measureInChild(name, base, calls) });
    process.exit(0);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

async function main() {
  const arg = (name, fallback) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
  const calls = arg('calls', 20000);
  const rounds = arg('rounds', 3);
  const upstream = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': ANSWER.length }).end(ANSWER));
  });
  // The upstream in a process of its own would be fairer still; in the runner's it costs every client alike.
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${upstream.address().port}/2.0/`;
  const results = Object.fromEntries(Object.keys(clients).map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of Object.keys(clients)) {
      const child = fork(__filename, ['--child']);
      const figure = await new Promise((resolve, reject) => {
        child.once('message', (m) => resolve(m.usPerCall));
        child.once('error', reject);
        child.once('exit', (code) => code !== 0 && reject(new Error(`${name}: child exited ${code}`)));
        child.send({ name, base, calls });
      });
      results[name].push(figure);
    }
  }
  upstream.close();
  const floor = Math.min(...results['node:http']);
  console.log(`CPU of the client process per call, µs (${calls} calls, ${IN_FLIGHT} in flight, ${ANSWER.length}-byte answers, ${rounds} rounds):`);
  console.log('| client | rounds | best | best ÷ node:http |');
  console.log('|---|---|--:|--:|');
  for (const [name, figures] of Object.entries(results)) {
    const best = Math.min(...figures);
    console.log(`| ${name} | ${figures.map((f) => f.toFixed(0)).join(', ')} | ${best.toFixed(0)} | ${(best / floor).toFixed(2)}× |`);
  }
}
