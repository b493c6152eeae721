'use strict';
/**
 * Summary of the service's CPU profiles (`npm run bench -- --cpu-prof`, or
 * `node bench/lib/profile.js DIR`): self time by function and by package, so
 * the top costs of the hot path can be read without a profiler UI.
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

/** Self time (ms) by function and by package over every profile of `dir` (the newest only unless `all`). */
function summariseProfiles(dir, { top = 30, all = false, requests } = {}) {
  if (!fs.existsSync(dir)) return `no profiles in ${dir}`;
  let files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
  files.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  if (!all) files = files.slice(0, 1);
  if (files.length === 0) return `no profiles in ${dir}`;
  const byFunction = new Map();
  const byPackage = new Map();
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
    'self time by package:',
    ...rows(byPackage),
    'inclusive time by package or service file (callees counted too):',
    ...rows(inclusive),
    'self time by function:',
    ...rows(byFunction),
  ].join('\n');
}

module.exports = { summariseProfiles };

if (require.main === module) console.log(summariseProfiles(process.argv[2] ?? path.join(__dirname, '..', 'profiles'), { all: process.argv.includes('--all') }));
