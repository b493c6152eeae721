'use strict';
/* global fetch */
/**
 * What the service says of itself around one measure, read from its own
 * Prometheus text (`/metrics` of the internal listener: prom-client's default
 * metrics): garbage collections by kind, their time, the pauses of 10 ms or
 * more, and the event loop's delay. Read before and after a load; `delta`
 * gives what happened during it. No flag on the service, no log to parse:
 * the same figures production's dashboards read.
 */

const KINDS = ['minor', 'major', 'incremental', 'weakcb'];

function labelsOf(text) {
  const out = {};
  for (const m of text.matchAll(/(\w+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

/**
 * `{ gc: { [kind]: { count, seconds, over10ms } }, lagP99Ms, lagMaxMs, served }`
 * from one scrape of `internalOrigin`'s `/metrics`; undefined when it does not answer.
 */
async function scrape(internalOrigin) {
  let text;
  try {
    const r = await fetch(`${internalOrigin}/metrics`);
    if (r.status !== 200) return undefined;
    text = await r.text();
  } catch {
    return undefined;
  }
  const gc = Object.fromEntries(KINDS.map((k) => [k, { count: 0, seconds: 0, over10ms: 0 }]));
  let lagP99Ms = NaN;
  let lagMaxMs = NaN;
  let served = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('nodejs_gc_duration_seconds')) {
      const m = /^nodejs_gc_duration_seconds_(count|sum|bucket)\{([^}]*)\} (\S+)/.exec(line);
      if (!m) continue;
      const labels = labelsOf(m[2]);
      const kind = gc[labels.kind];
      if (!kind) continue;
      const value = Number(m[3]);
      if (m[1] === 'count') kind.count = value;
      else if (m[1] === 'sum') kind.seconds = value;
      // Cumulative buckets: the pauses under 10 ms are the 0.01 bucket; the rest is what the count adds.
      else if (labels.le === '0.01') kind.under10ms = value;
    } else if (line.startsWith('nodejs_eventloop_lag_p99_seconds ')) lagP99Ms = Number(line.split(' ')[1]) * 1000;
    else if (line.startsWith('nodejs_eventloop_lag_max_seconds ')) lagMaxMs = Number(line.split(' ')[1]) * 1000;
    else if (line.startsWith('miles_bff_http_request_duration_seconds_count{') && line.includes('listener="public"')) served += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  for (const k of KINDS) {
    gc[k].over10ms = gc[k].count - (gc[k].under10ms ?? gc[k].count);
    delete gc[k].under10ms;
  }
  return { gc, lagP99Ms, lagMaxMs, served };
}

/**
 * What happened between two scrapes: `{ fullGcs, gcMs, gcMsByKind, pausesOver10ms, lagP99Ms, lagMaxMs }`.
 * prom-client resets its event-loop-delay histogram at each scrape, so the lag is the measure's own.
 * Full collections are `major` (mark-compact); `incremental` is its marking steps.
 */
function delta(before, after) {
  if (!before || !after) return undefined;
  const gcMsByKind = {};
  let gcMs = 0;
  let pausesOver10ms = 0;
  for (const k of KINDS) {
    const ms = (after.gc[k].seconds - before.gc[k].seconds) * 1000;
    gcMsByKind[k] = Math.round(ms * 10) / 10;
    gcMs += ms;
    pausesOver10ms += after.gc[k].over10ms - before.gc[k].over10ms;
  }
  return {
    fullGcs: after.gc.major.count - before.gc.major.count,
    minorGcs: after.gc.minor.count - before.gc.minor.count,
    gcMs: Math.round(gcMs * 10) / 10,
    gcMsByKind,
    pausesOver10ms,
    lagP99Ms: Math.round(after.lagP99Ms * 100) / 100,
    lagMaxMs: Math.round(after.lagMaxMs * 100) / 100,
  };
}

module.exports = { scrape, delta };
