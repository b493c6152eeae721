'use strict';
/**
 * Summary of the service's CPU profiles (`npm run bench -- --cpu-prof`, or
 * `node bench/lib/profile.js DIR`): self time by module group (express, our
 * middleware, pino, jose, redis client, axios, node core, GC), by package and
 * by function, so the top costs of the hot path can be read without a
 * profiler UI.
 */
const fs = require('node:fs');
const path = require('node:path');

function where(url) {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node (core)';
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? `service ${url.slice(dist + 6).replace(/\.js$/, '')}` : url;
}

/** Packages grouped by what they are to a request; anything else stands alone. */
const GROUPS = {
  express: ['express', 'router', 'body-parser', 'finalhandler', 'parseurl', 'path-to-regexp', 'on-finished', 'on-headers', 'send', 'serve-static', 'content-type', 'type-is', 'mime-types', 'accepts', 'negotiator', 'vary', 'encodeurl', 'escape-html', 'etag', 'fresh', 'range-parser', 'proxy-addr', 'forwarded', 'qs', 'cookie', 'cookie-signature', 'depd', 'debug', 'ms', 'statuses', 'http-errors', 'setprototypeof', 'inherits', 'toidentifier', 'merge-descriptors', 'content-disposition', 'raw-body', 'iconv-lite', 'bytes', 'unpipe', 'ee-first', 'media-typer', 'mime-db', 'is-promise', 'router'],
  pino: ['pino', 'sonic-boom', 'fast-redact', 'pino-std-serializers', 'thread-stream', 'quick-format-unescaped', 'atomic-sleep', 'on-exit-leak-free', 'safe-stable-stringify', 'real-require', 'process-warning', '@pinojs/redact'],
  jose: ['jose'],
  'redis client': ['@redis/client', 'redis', 'cluster-key-slot', 'generic-pool'],
  axios: ['axios', 'follow-redirects', 'form-data', 'proxy-from-env'],
  'http-proxy-middleware (the proxy baseline)': ['http-proxy-middleware', 'http-proxy', 'eventemitter3', 'requires-port', 'micromatch', 'is-plain-object'],
};
const GROUP_OF = new Map(Object.entries(GROUPS).flatMap(([group, pkgs]) => pkgs.map((p) => [p, group])));

/**
 * The group of a package or service file (`where`'s answer) for the summary by module: the
 * libraries of the request path by name, the service's own code by folder
 * (`our middleware` is http/ and routes/), Node's JavaScript and native frames as `node core`.
 */
function groupOf(where, functionName) {
  if (where === '(native)') {
    if (functionName === '(garbage collector)') return 'garbage collector';
    if (functionName === '(program)') return '(program: V8 outside JavaScript)';
    return 'node core (native)';
  }
  if (where === 'node (core)') return 'node core (JavaScript)';
  if (where.startsWith('service ')) {
    const file = where.slice('service '.length);
    const folder = file.split('/')[0];
    if (folder === 'http' || folder === 'routes' || file === 'app') return 'our middleware and routes (http/, routes/, app)';
    return file.includes('/') ? `our ${folder}/` : `our ${file}`;
  }
  return GROUP_OF.get(where) ?? where;
}

/** Self time (ms) by function and by package over every profile of `dir` (the newest only unless `all`). */
function summariseProfiles(dir, { top = 30, all = false, requests } = {}) {
  if (!fs.existsSync(dir)) return `no profiles in ${dir}`;
  let files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
  files.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  if (!all) files = files.slice(0, 1);
  if (files.length === 0) return `no profiles in ${dir}`;
  const byFunction = new Map();
  const byPackage = new Map();
  const byGroup = new Map();
  const inclusive = new Map();
  let totalMs = 0;
  let idleMs = 0;
  for (const file of files) {
    const p = JSON.parse(fs.readFileSync(file, 'utf8'));
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const selfUs = new Map();
    for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
    for (const [id, us] of selfUs) {
      const n = nodes.get(id);
      const cf = n.callFrame;
      const ms = us / 1000;
      totalMs += ms;
      if (cf.functionName === '(idle)') idleMs += ms;
      if (cf.functionName === '(idle)') continue;
      const file = cf.url.startsWith('node:') ? cf.url : where(cf.url);
      const key = `${cf.functionName || '(anonymous)'} ${file}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
      const pkg = cf.url ? where(cf.url) : cf.functionName;
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
      const group = groupOf(cf.url ? where(cf.url) : '(native)', cf.functionName);
      byGroup.set(group, (byGroup.get(group) ?? 0) + ms);
      // Inclusive: every package and service file on the stack, once each.
      const seen = new Set();
      for (let at = id; at !== undefined; at = parent.get(at)) {
        const url = nodes.get(at).callFrame.url;
        if (url && !url.startsWith('node:')) seen.add(where(url));
      }
      for (const k of seen) inclusive.set(k, (inclusive.get(k) ?? 0) + ms);
    }
  }
  const busy = totalMs - idleMs;
  // With the number of requests served, each line also reads as µs per request.
  const perRequest = (ms) => (requests ? `${((ms * 1000) / requests).toFixed(1).padStart(6)} µs/req  ` : '');
  const rows = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, ms]) => `  ${((100 * ms) / busy).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(7)} ms  ${perRequest(ms)}${k}`);
  return [
    `CPU profile ${files.map((f) => path.basename(f)).join(', ')}: ${busy.toFixed(0)} ms busy of ${totalMs.toFixed(0)} ms${requests ? `, ${requests} requests served: ${perRequest(busy).trim()} (start-up included)` : ''}`,
    'self time by module group:',
    ...rows(byGroup),
    'self time by package:',
    ...rows(byPackage),
    'inclusive time by package or service file (callees counted too):',
    ...rows(inclusive),
    'self time by function:',
    ...rows(byFunction),
  ].join('\n');
}

/**
 * A service's `--trace-gc` output (its stdout, access-log lines skipped): collections by kind,
 * their pauses (median, p99, max) and the heap before and after, so a p99 can be set against them.
 * V8 prints `[pid:addr] <ms> ms: <kind> (<reason>) <before> (<committed>) -> <after> (<committed>) MB, <pause> / <mutator> ms …`.
 */
function summariseGcTrace(name, file) {
  const kinds = new Map();
  const lineRe = /\] +(\d+) ms: (Scavenge|Mark-Compact|Mark-Compact \(reduce\)|Minor Mark-Sweep|Mark-sweep)[^\d]*?([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ ([\d.]+) ms/;
  let maxHeap = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = lineRe.exec(line);
    if (!m) continue;
    const kind = kinds.get(m[2]) ?? { pauses: [], after: [] };
    kind.pauses.push(Number(m[7]));
    kind.after.push(Number(m[5]));
    maxHeap = Math.max(maxHeap, Number(m[3]));
    kinds.set(m[2], kind);
  }
  const at = (xs, p) => xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
  const out = [`GC trace of ${name} (${path.basename(file)}): largest heap before a collection ${maxHeap} MB`];
  for (const [kind, k] of kinds) {
    const pauses = [...k.pauses].sort((a, b) => a - b);
    const after = [...k.after].sort((a, b) => a - b);
    out.push(`  ${kind}: ${pauses.length}, pause median ${at(pauses, 50)} ms, p99 ${at(pauses, 99)} ms, max ${pauses.at(-1)} ms, ${pauses.reduce((a, b) => a + b, 0).toFixed(0)} ms in all; heap after: median ${at(after, 50)} MB, max ${after.at(-1)} MB`);
  }
  return out.join('\n');
}

module.exports = { summariseProfiles, summariseGcTrace, groupOf };

if (require.main === module) console.log(summariseProfiles(process.argv[2] ?? path.join(__dirname, '..', 'profiles'), { all: process.argv.includes('--all') }));
