import type { CheckResult } from './report';

/** The upstream refuses a signature whose `iat` is further than this from its clock (UPSTREAM.md). */
export const IAT_WINDOW_SECONDS = 300;
/** Beyond this the clock is not synchronised: it fails the check well before the upstream refuses. */
export const SKEW_FAIL_SECONDS = 60;
/** Beyond this the clock drifts (NTP keeps a machine within a second). */
export const SKEW_WARN_SECONDS = 5;

/**
 * The skew between this machine and the upstream, from the `Date` header of one answer.
 * `Date` has whole seconds, and the answer was written between `sentAt` and `receivedAt`: the
 * upstream's clock then lay in [date, date + 1 s) while ours lay in [sentAt, receivedAt], so the
 * skew is known within that span; the check judges only what the span proves.
 */
export function clockCheck(date: string | undefined, sentAt: number, receivedAt: number): CheckResult {
  const upstream = date === undefined ? NaN : Date.parse(date);
  if (Number.isNaN(upstream)) {
    return {
      name: 'clock',
      status: 'warn',
      summary: date === undefined ? 'the upstream sent no Date header: the skew cannot be measured' : `the upstream's Date header ${JSON.stringify(date)} cannot be read`,
      fix: `make sure this machine's clock is synchronised (NTP): the upstream refuses a signature whose iat is more than ${IAT_WINDOW_SECONDS} s off`,
    };
  }
  // Positive: the upstream is ahead of this machine.
  const lowest = (upstream - receivedAt) / 1000;
  const highest = (upstream + 1000 - sentAt) / 1000;
  const estimate = Math.round((lowest + highest) / 2);
  const proven = lowest > 0 ? lowest : highest < 0 ? -highest : 0;
  const uncertainty = Math.ceil((highest - lowest) / 2);
  const data = { skewSeconds: estimate, uncertaintySeconds: uncertainty, upstreamDate: date, windowSeconds: IAT_WINDOW_SECONDS };
  const where = estimate === 0 ? 'in step with the upstream' : `${Math.abs(estimate)} s ${estimate > 0 ? 'behind' : 'ahead of'} the upstream`;
  const summary = `this machine is ${where} (±${uncertainty} s, from its Date header; the upstream accepts iat within ±${IAT_WINDOW_SECONDS} s)`;
  const fix = `synchronise this machine's clock (NTP, chrony or the platform's time service): signatures carry its time as iat, and the upstream refuses one more than ${IAT_WINDOW_SECONDS} s off (errorCode 8)`;
  if (proven > SKEW_FAIL_SECONDS) return { name: 'clock', status: 'fail', summary, fix, data };
  if (proven > SKEW_WARN_SECONDS) return { name: 'clock', status: 'warn', summary, fix, data };
  return { name: 'clock', status: 'pass', summary, data };
}
