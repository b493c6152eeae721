'use strict';
/**
 * Rounds of measures on a machine whose speed drifts: the order of one round,
 * and the medians over rounds. A ratio (the service over a baseline, B over A)
 * and an added latency (the service over the direct upstream) are taken
 * within each round, where their two measures are seconds apart, and only
 * then summarised by their median: a slow minute moves both sides of a round
 * alike, and the median drops the round that a burst of other work spoilt.
 */

/** The median of finite numbers (the mean of the middle two for an even count); NaN when none. */
function median(values) {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/**
 * The measures of round `round` (0-based), in order: for each scenario, every
 * target flat out, then (when `paced`) each service and the direct upstream
 * at the paced load. Every other round runs the whole list backwards, so that
 * a trend over the run favours no target. `service-warn` (the access log's
 * cost) only runs the `logScenarios`, and only flat out.
 */
function roundOrder({ round, scenarios, targets, paced, services, logScenarios }) {
  const steps = [];
  for (const scenario of scenarios) {
    for (const target of targets) {
      if (target === 'service-warn' && !logScenarios.includes(scenario)) continue;
      steps.push({ scenario, target, paced: false });
    }
    if (paced) for (const target of [...services.filter((s) => s !== 'service-warn'), 'direct']) steps.push({ scenario, target, paced: true });
  }
  return round % 2 ? steps.reverse() : steps;
}

const NUMBERS = ['rps', 'p50', 'p90', 'p99', 'max', 'peakRssMb', 'otherCores'];
const SUMS = ['total', 'ok', 'non2xx', 'errors'];
const GC = ['fullGcs', 'minorGcs', 'gcMs', 'pausesOver10ms', 'lagP99Ms', 'lagMaxMs'];

function medianByKey(objects) {
  const keys = new Set(objects.flatMap((o) => Object.keys(o ?? {})));
  return Object.fromEntries([...keys].map((k) => [k, median(objects.map((o) => o?.[k] ?? 0))]));
}

/** One target's figures over the rounds: medians (sums for counts), and the rounds themselves. */
function summarise(list) {
  const out = { rounds: list };
  for (const k of NUMBERS) out[k] = median(list.map((f) => f[k]));
  for (const k of SUMS) out[k] = list.reduce((a, f) => a + (f[k] ?? 0), 0);
  out.cpuUsPerRequest = medianByKey(list.map((f) => f.cpuUsPerRequest));
  out.redisPerRequest = medianByKey(list.map((f) => f.redisPerRequest));
  const gcs = list.map((f) => f.gc).filter(Boolean);
  out.gc = gcs.length ? Object.fromEntries(GC.map((k) => [k, median(gcs.map((g) => g[k]))])) : undefined;
  return out;
}

/** `{ rounds: [per-round values], median }` of `value(round's measures)` over the rounds that have both sides. */
function perRound(byRound, value) {
  const rounds = byRound.map(value);
  return { rounds, median: median(rounds) };
}

/**
 * The rows of the report from the rounds' measures: per scenario, each target's
 * saturated and paced figures (`summarise`), the within-round ratios of every
 * service to every other target (`ratios['service/bare']`, `ratios['service-b/service']`),
 * and the latency each service adds over the direct upstream at the paced load.
 */
function aggregate({ rounds, scenarios, rates }) {
  const out = {};
  for (const scenario of scenarios) {
    const byRound = rounds.map((r) => {
      const sat = {};
      const paced = {};
      for (const m of r.measures) if (m.scenario === scenario.id) (m.paced ? paced : sat)[m.target] = m.figures;
      return { sat, paced };
    });
    const targets = [...new Set(byRound.flatMap((r) => Object.keys(r.sat)))];
    const pacedTargets = [...new Set(byRound.flatMap((r) => Object.keys(r.paced)))];
    const row = { title: scenario.title, saturated: {}, fixedRate: { rate: rates[scenario.id] }, ratios: {}, added: {} };
    for (const t of targets) row.saturated[t] = summarise(byRound.map((r) => r.sat[t]).filter(Boolean));
    for (const t of pacedTargets) row.fixedRate[t] = summarise(byRound.map((r) => r.paced[t]).filter(Boolean));
    for (const a of targets.filter((t) => t.startsWith('service'))) {
      for (const b of targets) {
        if (a === b || (a === 'service' && b.startsWith('service')) || (a === 'service-warn' && b !== 'service')) continue;
        row.ratios[`${a}/${b}`] = perRound(byRound, (r) => (r.sat[a] && r.sat[b] ? r.sat[a].rps / r.sat[b].rps : NaN));
      }
    }
    if (row.fixedRate.direct) {
      for (const a of pacedTargets.filter((t) => t !== 'direct')) {
        row.added[a] = {
          p50: perRound(byRound, (r) => (r.paced[a] && r.paced.direct ? r.paced[a].p50 - r.paced.direct.p50 : NaN)),
          p99: perRound(byRound, (r) => (r.paced[a] && r.paced.direct ? r.paced[a].p99 - r.paced.direct.p99 : NaN)),
        };
      }
    }
    out[scenario.id] = row;
  }
  return out;
}

module.exports = { median, roundOrder, aggregate };
