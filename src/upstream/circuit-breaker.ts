/**
 * A circuit breaker in front of the upstream: when calls keep failing, stop
 * sending for a while and answer at once, instead of piling up sockets and
 * requests behind an upstream that cannot answer.
 *
 * - closed: every call goes through; outcomes are counted over a sliding
 *   window (`windowSeconds`, in ten buckets, so memory does not grow with the
 *   traffic). The circuit opens when the window holds at least
 *   `failureThreshold` failures and they are at least `failureRatePercent` of
 *   its calls (a few failures among many successes are the upstream's noise,
 *   not an outage). It also opens after `consecutiveFailures` failures in a
 *   row with no success between them, whatever the window holds: when the
 *   upstream stalls, the window still holds the successes of the seconds
 *   before, and every call meanwhile would wait a whole timeout; a run of
 *   failures says at once that nothing answers any more.
 * - open: no call goes through for `openSeconds`; each is refused with the
 *   seconds left (`Retry-After`).
 * - half-open: one trial call at a time goes through, the others are refused
 *   (retry in 1 s). A trial that succeeds closes the circuit; one that fails
 *   opens it again for `openSeconds`.
 *
 * The breaker only counts; what a failure is belongs to the caller (the
 * upstream client counts timeouts, unreachable, 5xx and unreadable answers).
 * It is per process: replicas each learn the upstream's state on their own,
 * which costs at most `failureThreshold` failed calls per replica.
 *
 * @example
 * const breaker = createCircuitBreaker({ failureThreshold: 5, failureRatePercent: 50, windowSeconds: 10, openSeconds: 5 });
 * const admission = breaker.admit();
 * if (!admission.admitted) throw new UpstreamCircuitOpen('…', path, admission.retryAfterSeconds);
 * try { const answer = await send(); admission.settle('success'); return answer; }
 * catch (err) { admission.settle(isOutage(err) ? 'failure' : 'neutral'); throw err; }
 */

export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * What a call says about the upstream's health: `success` (it answered),
 * `failure` (it could not), `neutral` (nothing learnt, e.g. our own error
 * before sending).
 */
export type CallVerdict = 'success' | 'failure' | 'neutral';

export interface CircuitBreakerOptions {
  /** Failures within the window needed to open the circuit (at least 1). */
  readonly failureThreshold: number;
  /** Share of the window's calls that must have failed too, in percent (1–100). */
  readonly failureRatePercent: number;
  readonly windowSeconds: number;
  /** Failures in a row (no success between them) that open the circuit whatever the window holds; 0 or absent: off. */
  readonly consecutiveFailures?: number;
  /** How long the circuit stays open before a trial call. */
  readonly openSeconds: number;
  /**
   * A trial call not settled after this long no longer holds the half-open
   * circuit (a safety net; callers settle every admission). Default: the open
   * time, at least 30 s.
   */
  readonly maxTrialMs?: number;
  /** Epoch ms; tests inject their own clock. */
  readonly now?: () => number;
  /** Called on every change of state, after it happened. */
  readonly onStateChange?: (change: CircuitStateChange) => void;
}

export interface CircuitStateChange {
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** Failures and calls in the window when the circuit opened from closed. */
  readonly failures: number;
  readonly calls: number;
}

/** Permission for one call; `settle` it exactly once with what the call showed. */
export interface Admitted {
  readonly admitted: true;
  /** Whether this call is the trial of a half-open circuit. */
  readonly trial: boolean;
  settle(verdict: CallVerdict): void;
}

export interface Refused {
  readonly admitted: false;
  /** Whole seconds until a call may be admitted again (at least 1). */
  readonly retryAfterSeconds: number;
}

export interface CircuitBreaker {
  /** The current state (an open circuit whose time is up reads as half-open). */
  readonly state: CircuitState;
  admit(): Admitted | Refused;
}

const BUCKETS = 10;

interface Bucket {
  /** Index of the time slice it counts (`floor(now / width)`), -1 when unused. */
  slice: number;
  calls: number;
  failures: number;
}

/** Checks the options once, at start-up, with a message naming the fix. */
function check(options: CircuitBreakerOptions): void {
  const whole = (name: keyof CircuitBreakerOptions, min: number, max: number): void => {
    const v = options[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(`circuit breaker: ${name} must be a whole number in ${min}..${max} (got ${String(v)})`);
    }
  };
  whole('failureThreshold', 1, 1_000_000);
  whole('failureRatePercent', 1, 100);
  whole('windowSeconds', 1, 86_400);
  whole('openSeconds', 1, 86_400);
  if (options.consecutiveFailures !== undefined) whole('consecutiveFailures', 0, 1_000_000);
}

export function createCircuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  check(options);
  const clock = options.now ?? Date.now;
  const sliceMs = (options.windowSeconds * 1000) / BUCKETS;
  const openMs = options.openSeconds * 1000;
  const maxTrialMs = options.maxTrialMs ?? Math.max(openMs, 30_000);
  const buckets: Bucket[] = Array.from({ length: BUCKETS }, () => ({ slice: -1, calls: 0, failures: 0 }));

  let state: CircuitState = 'closed';
  /** Bumped on every change of state: a verdict of an earlier state's call is not counted. */
  let generation = 0;
  let openUntil = 0;
  let trialSince: number | undefined;
  /** Failures since the last success of the closed circuit. */
  let inARow = 0;
  const inARowLimit = options.consecutiveFailures ?? 0;

  function moveTo(to: CircuitState, counts: { failures: number; calls: number } = { failures: 0, calls: 0 }): void {
    const from = state;
    if (from === to) return;
    state = to;
    generation += 1;
    trialSince = undefined;
    inARow = 0;
    if (to === 'open') openUntil = clock() + openMs;
    if (to === 'closed') for (const b of buckets) b.slice = -1;
    options.onStateChange?.({ from, to, ...counts });
  }

  function windowCounts(now: number): { failures: number; calls: number } {
    const current = Math.floor(now / sliceMs);
    let failures = 0;
    let calls = 0;
    for (const b of buckets) {
      if (b.slice > current - BUCKETS) {
        failures += b.failures;
        calls += b.calls;
      }
    }
    return { failures, calls };
  }

  function count(verdict: 'success' | 'failure'): void {
    const now = clock();
    const slice = Math.floor(now / sliceMs);
    const bucket = buckets[slice % BUCKETS]!;
    if (bucket.slice !== slice) {
      bucket.slice = slice;
      bucket.calls = 0;
      bucket.failures = 0;
    }
    bucket.calls += 1;
    if (verdict === 'failure') bucket.failures += 1;
    if (verdict !== 'failure') {
      inARow = 0;
      return;
    }
    inARow += 1;
    const counts = windowCounts(now);
    if (counts.failures >= options.failureThreshold && counts.failures * 100 >= options.failureRatePercent * counts.calls) moveTo('open', counts);
    else if (inARowLimit > 0 && inARow >= inARowLimit) moveTo('open', counts);
  }

  /** An open circuit whose time is up turns half-open when next looked at. */
  function current(): CircuitState {
    if (state === 'open' && clock() >= openUntil) moveTo('half-open');
    return state;
  }

  function admission(trial: boolean): Admitted {
    const admittedIn = generation;
    let settled = false;
    return {
      admitted: true,
      trial,
      settle(verdict) {
        if (settled) return;
        settled = true;
        // A call admitted before the last change of state says nothing about the new one.
        if (admittedIn !== generation) return;
        if (!trial) {
          if (verdict !== 'neutral') count(verdict);
          return;
        }
        if (verdict === 'success') moveTo('closed');
        else if (verdict === 'failure') moveTo('open');
        else trialSince = undefined;
      },
    };
  }

  return {
    get state() {
      return current();
    },
    admit() {
      switch (current()) {
        case 'closed':
          return admission(false);
        case 'open':
          return { admitted: false, retryAfterSeconds: Math.max(1, Math.ceil((openUntil - clock()) / 1000)) };
        case 'half-open': {
          const now = clock();
          if (trialSince !== undefined && now - trialSince < maxTrialMs) return { admitted: false, retryAfterSeconds: 1 };
          if (trialSince !== undefined) generation += 1; // the stuck trial's verdict no longer counts
          trialSince = now;
          return admission(true);
        }
      }
    },
  };
}
