'use strict';
/**
 * The report of a benchmark run: the targets met or missed (from the medians
 * over the rounds), and the Markdown tables printed and written into
 * docs/benchmarks.md, each median with the figures of its rounds beside it.
 */
const os = require('node:os');

const fmt = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const list = (values, digits = 2) => values.map((v) => fmt(v, digits)).join(', ');
const NAMES = { service: 'service (A)', 'service-b': 'service B', 'service-warn': 'service, LOG_LEVEL=warn', bare: 'bare Express', proxy: 'plain proxy', direct: 'direct upstream' };
const ORDER = ['service', 'service-b', 'service-warn', 'bare', 'proxy', 'direct'];

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

/** The targets, from the medians of this run: A's decide the exit code; B's are shown beside them. */
function evaluate(results) {
  const s = results.scenarios;
  const out = [];
  for (const variant of ['service', 'service-b']) {
    const who = variant === 'service' ? '' : 'B: ';
    const add = (name, value, limit, met) => out.push({ name: `${who}${name}`, value, limit, met, variant: variant === 'service' ? undefined : 'B' });
    const ratioTarget = (id, baseline, limit, name) => {
      const r = s[id]?.ratios[`${variant}/${baseline}`];
      if (r && Number.isFinite(r.median)) add(`${name} (median of ${r.rounds.length} rounds: ${list(r.rounds)})`, `${fmt(r.median)}×`, `≥ ${fmt(limit)}×`, r.median >= limit);
    };
    ratioTarget('getprog', 'bare', 0.9, 'cached getprog ≥ 0.9× bare Express');
    ratioTarget('session-read', 'proxy', 0.7, 'session-carried read ≥ 0.7× plain proxy');
    ratioTarget('mutation', 'proxy', 0.8, 'mutation ≥ 0.8× plain proxy');
    for (const id of ['session-read', 'mutation']) {
      const added = s[id]?.added[variant];
      if (!added) continue;
      const rate = s[id].fixedRate.rate;
      add(`p50 added over the direct upstream, ${id} paced at ${rate} req/s (rounds: ${list(added.p50.rounds)})`, `${fmt(added.p50.median)} ms`, '≤ 1 ms', added.p50.median <= 1);
      add(`p99 added over the direct upstream, ${id} paced at ${rate} req/s (rounds: ${list(added.p99.rounds)})`, `${fmt(added.p99.median)} ms`, '≤ 10 ms', added.p99.median <= 10);
    }
    const peaks = Object.values(s).flatMap((row) => [...(row.saturated[variant]?.rounds ?? []), ...(row.fixedRate[variant]?.rounds ?? [])].map((f) => f.peakRssMb)).filter(Number.isFinite);
    const soak = results.soak?.[variant];
    if (soak) peaks.push(soak.rssMaxMb);
    if (peaks.length) {
      const peak = Math.max(...peaks);
      add('service RSS under load (peak of every measure)', `${fmt(peak, 1)} MB`, '≤ 200 MB', peak <= 200);
    }
    if (soak) {
      const growth = soak.lastQuarterMedianMb - soak.firstQuarterMedianMb;
      add(`RSS flat over a ${soak.requests}-request soak (median of last quarter − first quarter)`, `${fmt(growth, 1)} MB`, '≤ 10 MB', growth <= 10 && !soak.non2xx && !soak.errors);
    }
  }
  return out;
}

function renderMarkdown(results) {
  const lines = [];
  const m = results.machine;
  const o = results.options;
  const rows = Object.entries(results.scenarios);
  const targetsOf = (row, kind) => ORDER.filter((t) => row[kind][t]);
  lines.push(`Run \`${results.runId}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${results.seconds} s in all.`);
  lines.push(`Machine: ${m.cpu}, ${m.memoryGb} GB, ${m.os}; Node ${m.node}; Redis ${m.redis}.`);
  lines.push(
    `Command: \`npm run bench${o.quick ? ' -- --quick' : ''}\`: ${o.rounds} rounds in alternating order, ${o.connections} connections, ${o.duration} s per measure after ${o.warmup} s of warm-up; service LOG_LEVEL=${o.logLevel}, RATE_LIMIT_ENABLED=${o.rateLimits}, NODE_OPTIONS=${o.nodeOptions || '(none)'}${o.nodeArgs.length ? `, node flags ${o.nodeArgs.join(' ')}` : ''}.`,
  );
  if (o.bServiceRoot) lines.push(`Service B: the build in \`${o.bServiceRoot}\`${o.bNodeArgs.length ? `, node flags \`${o.bNodeArgs.join(' ')}\`` : ''}, measured in the same rounds, beside A.`);
  lines.push('Each figure is the median over the rounds; the rounds\' own figures follow it. Ratios and added latencies are taken within each round, then their median.');
  lines.push('');
  lines.push(`Flat out, ${o.connections} connections:`);
  lines.push('');
  lines.push('| scenario | target | req/s | req/s by round | p50 ms | p99 ms | service CPU µs/req | service peak RSS MB | other load, cores |');
  lines.push('|---|---|--:|---|--:|--:|--:|--:|--:|');
  for (const [id, row] of rows) {
    targetsOf(row, 'saturated').forEach((t, i) => {
      const f = row.saturated[t];
      const own = t.startsWith('service');
      lines.push(`| ${i === 0 ? id : ''} | ${NAMES[t]} | ${fmt(f.rps, 0)} | ${list(f.rounds.map((r) => r.rps), 0)} | ${fmt(f.p50)} | ${fmt(f.p99)} | ${own ? fmt(f.cpuUsPerRequest.service, 0) : ''} | ${own ? fmt(f.peakRssMb, 1) : ''} | ${fmt(f.otherCores)} |`);
    });
  }
  lines.push('');
  lines.push('Ratios of requests per second, within each round:');
  lines.push('');
  lines.push('| scenario | ratio | median | by round |');
  lines.push('|---|---|--:|---|');
  for (const [id, row] of rows) {
    Object.entries(row.ratios).forEach(([key, r], i) => {
      const [a, b] = key.split('/');
      lines.push(`| ${i === 0 ? id : ''} | ${NAMES[a]} ÷ ${NAMES[b]} | ${fmt(r.median)}× | ${list(r.rounds)} |`);
    });
  }
  const pacedRows = rows.filter(([, row]) => row.fixedRate.direct);
  if (pacedRows.length) {
    lines.push('');
    lines.push(
      `The latency a service adds over the direct upstream at one same load: requests paced evenly at ${Math.round(o.pacedShare * 100)} % of the service's flat-out rate (first round), over up to ${o.connections} keep-alive connections, timed from their scheduled start; the service's garbage collections and event-loop delay during the measure, from its own metrics:`,
    );
    lines.push('');
    lines.push('| scenario | rate req/s | target | p50 ms | p99 ms | added p50 ms (by round) | added p99 ms (by round) | full GCs | GC ms | GC pauses ≥ 10 ms | loop delay p99 ms | peak RSS MB |');
    lines.push('|---|--:|---|--:|--:|---|---|--:|--:|--:|--:|--:|');
    for (const [id, row] of pacedRows) {
      targetsOf(row, 'fixedRate').forEach((t, i) => {
        const f = row.fixedRate[t];
        const a = row.added[t];
        const gc = f.gc;
        lines.push(
          `| ${i === 0 ? id : ''} | ${i === 0 ? row.fixedRate.rate : ''} | ${NAMES[t]} | ${fmt(f.p50)} | ${fmt(f.p99)} | ${a ? `${fmt(a.p50.median)} (${list(a.p50.rounds)})` : ''} | ${a ? `${fmt(a.p99.median)} (${list(a.p99.rounds)})` : ''} | ${gc ? fmt(gc.fullGcs, 0) : ''} | ${gc ? fmt(gc.gcMs, 1) : ''} | ${gc ? fmt(gc.pausesOver10ms, 0) : ''} | ${gc ? fmt(gc.lagP99Ms) : ''} | ${t === 'direct' ? '' : fmt(f.peakRssMb, 1)} |`,
        );
      });
    }
  }
  lines.push('');
  lines.push('Flat out, CPU time per request by process (µs, medians; on 2 cores every process competes with the others), the Redis commands per request, and the service\'s garbage collection per measure:');
  lines.push('');
  lines.push('| scenario | target | service | upstream | proxy/bare | redis | load generator | Redis commands per request | full GCs (by round) | GC ms |');
  lines.push('|---|---|--:|--:|--:|--:|--:|---|---|--:|');
  for (const [id, row] of rows) {
    targetsOf(row, 'saturated').forEach((t, i) => {
      const f = row.saturated[t];
      const c = f.cpuUsPerRequest;
      const own = t.startsWith('service');
      const commands = own ? Object.entries(f.redisPerRequest ?? {}).filter(([, v]) => v >= 0.005).map(([k, v]) => `${k} ${Math.round(v * 100) / 100}`).join(', ') : '';
      const gc = own && f.gc ? [`${fmt(f.gc.fullGcs, 0)} (${list(f.rounds.map((r) => r.gc?.fullGcs), 0)})`, fmt(f.gc.gcMs, 1)] : ['', ''];
      lines.push(`| ${i === 0 ? id : ''} | ${NAMES[t]} | ${own ? fmt(c.service, 0) : ''} | ${fmt(c.upstream, 0)} | ${fmt(c.baselines, 0)} | ${fmt(c.redis, 0)} | ${fmt(c.loadgen, 0)} | ${commands} | ${gc[0]} | ${gc[1]} |`);
    });
  }
  for (const [name, k] of Object.entries(results.soak ?? {})) {
    lines.push('');
    lines.push(
      `Soak, ${NAMES[name]}: ${k.requests} session-carried reads in ${k.seconds} s (${k.rps} req/s, p99 ${fmt(k.p99)} ms, ${k.non2xx} non-2xx, ${k.errors} errors); RSS first ${k.rssFirstMb} MB, last ${k.rssLastMb} MB, max ${k.rssMaxMb} MB; median of the first quarter ${k.firstQuarterMedianMb} MB, of the last ${k.lastQuarterMedianMb} MB${k.gc ? `; ${k.gc.fullGcs} full GCs, ${k.gc.minorGcs} scavenges, ${k.gc.gcMs} ms of GC` : ''}.`,
    );
  }
  lines.push('');
  lines.push('| target | this run | limit | met |');
  lines.push('|---|--:|--:|---|');
  for (const t of results.targets) lines.push(`| ${t.name} | ${t.value} | ${t.limit} | ${t.met ? 'yes' : '**no**'} |`);
  return lines.join('\n');
}

module.exports = { evaluate, renderMarkdown, machine };
