import { createCircuitBreaker, type Admitted, type CircuitBreakerOptions, type CircuitStateChange } from '../../../src/upstream/circuit-breaker';

describe('circuit breaker', () => {
  let now: number;
  let changes: CircuitStateChange[];
  const build = (overrides: Partial<CircuitBreakerOptions> = {}) =>
    createCircuitBreaker({ failureThreshold: 3, failureRatePercent: 50, windowSeconds: 10, openSeconds: 5, now: () => now, onStateChange: (c) => changes.push(c), ...overrides });
  const admitted = (a: ReturnType<ReturnType<typeof build>['admit']>): Admitted => {
    if (!a.admitted) throw new Error(`refused, retry after ${a.retryAfterSeconds}`);
    return a;
  };

  beforeEach(() => {
    now = 1_700_000_000_000;
    changes = [];
  });

  it('opens after the threshold of failures within the window, and refuses with the seconds left', () => {
    const breaker = build();
    admitted(breaker.admit()).settle('failure');
    admitted(breaker.admit()).settle('failure');
    expect(breaker.state).toBe('closed');
    admitted(breaker.admit()).settle('failure');
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([{ from: 'closed', to: 'open', failures: 3, calls: 3 }]);
    expect(breaker.admit()).toEqual({ admitted: false, retryAfterSeconds: 5 });
    now += 3200;
    expect(breaker.admit()).toEqual({ admitted: false, retryAfterSeconds: 2 });
  });

  it('a stall after a busy window: opens on the run of failures in a row, not seconds later when the rate catches up', () => {
    const breaker = build({ failureThreshold: 5, consecutiveFailures: 10 });
    // A busy second of successes, then the upstream stalls: every call in flight times out together.
    const stalled: Admitted[] = [];
    for (let i = 0; i < 200; i += 1) admitted(breaker.admit()).settle('success');
    for (let i = 0; i < 30; i += 1) stalled.push(admitted(breaker.admit()));
    now += 5000;
    for (const call of stalled.slice(0, 9)) call.settle('failure');
    expect(breaker.state).toBe('closed');
    stalled[9]!.settle('failure');
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([{ from: 'closed', to: 'open', failures: 10, calls: 210 }]);
  });

  it('a handful of failures between answers, at low traffic, does not open it', () => {
    const breaker = build({ failureThreshold: 50, consecutiveFailures: 10 });
    for (let round = 0; round < 5; round += 1) {
      for (let i = 0; i < 9; i += 1) admitted(breaker.admit()).settle('failure');
      admitted(breaker.admit()).settle('success');
      now += 500;
    }
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual([]);
  });

  it('without consecutiveFailures, only the window decides', () => {
    const breaker = build({ failureThreshold: 5 });
    for (let i = 0; i < 200; i += 1) admitted(breaker.admit()).settle('success');
    for (let i = 0; i < 50; i += 1) admitted(breaker.admit()).settle('failure');
    expect(breaker.state).toBe('closed');
  });

  it('forgets failures older than the window', () => {
    const breaker = build();
    admitted(breaker.admit()).settle('failure');
    admitted(breaker.admit()).settle('failure');
    now += 11_000;
    admitted(breaker.admit()).settle('failure');
    admitted(breaker.admit()).settle('failure');
    expect(breaker.state).toBe('closed');
    admitted(breaker.admit()).settle('failure');
    expect(breaker.state).toBe('open');
  });

  it('stays closed while failures are a small share of the calls', () => {
    const breaker = build();
    for (let i = 0; i < 20; i += 1) admitted(breaker.admit()).settle('success');
    for (let i = 0; i < 10; i += 1) admitted(breaker.admit()).settle('failure');
    expect(breaker.state).toBe('closed');
    for (let i = 0; i < 10; i += 1) admitted(breaker.admit()).settle('failure');
    expect(breaker.state).toBe('open');
  });

  it('does not count neutral verdicts', () => {
    const breaker = build({ failureThreshold: 1 });
    for (let i = 0; i < 10; i += 1) admitted(breaker.admit()).settle('neutral');
    expect(breaker.state).toBe('closed');
  });

  it('half-opens after the open time: one trial at a time; success closes', () => {
    const breaker = build();
    for (let i = 0; i < 3; i += 1) admitted(breaker.admit()).settle('failure');
    now += 5000;
    expect(breaker.state).toBe('half-open');
    const trial = admitted(breaker.admit());
    expect(trial.trial).toBe(true);
    expect(breaker.admit()).toEqual({ admitted: false, retryAfterSeconds: 1 });
    trial.settle('success');
    expect(breaker.state).toBe('closed');
    // The window starts afresh: the failures before the opening no longer count.
    admitted(breaker.admit()).settle('failure');
    expect(breaker.state).toBe('closed');
    expect(changes.map((c) => c.to)).toEqual(['open', 'half-open', 'closed']);
  });

  it('a failed trial opens the circuit again for the whole open time', () => {
    const breaker = build();
    for (let i = 0; i < 3; i += 1) admitted(breaker.admit()).settle('failure');
    now += 5000;
    admitted(breaker.admit()).settle('failure');
    expect(breaker.state).toBe('open');
    expect(breaker.admit()).toEqual({ admitted: false, retryAfterSeconds: 5 });
  });

  it('a neutral trial lets the next call be the trial', () => {
    const breaker = build();
    for (let i = 0; i < 3; i += 1) admitted(breaker.admit()).settle('failure');
    now += 5000;
    admitted(breaker.admit()).settle('neutral');
    expect(breaker.state).toBe('half-open');
    expect(admitted(breaker.admit()).trial).toBe(true);
  });

  it('ignores verdicts of calls admitted before the last change of state', () => {
    const breaker = build();
    const slow = Array.from({ length: 5 }, () => admitted(breaker.admit()));
    for (let i = 0; i < 3; i += 1) admitted(breaker.admit()).settle('failure');
    expect(breaker.state).toBe('open');
    now += 5000;
    const trial = admitted(breaker.admit());
    // Late answers of the calls sent while closed say nothing about the half-open circuit.
    for (const s of slow) s.settle('success');
    expect(breaker.state).toBe('half-open');
    trial.settle('failure');
    expect(breaker.state).toBe('open');
  });

  it('settles an admission once only', () => {
    const breaker = build({ failureThreshold: 2 });
    const a = admitted(breaker.admit());
    a.settle('failure');
    a.settle('failure');
    expect(breaker.state).toBe('closed');
  });

  it('lets a new trial through when one was never settled', () => {
    const breaker = build({ maxTrialMs: 1000 });
    for (let i = 0; i < 3; i += 1) admitted(breaker.admit()).settle('failure');
    now += 5000;
    const lost = admitted(breaker.admit());
    expect(breaker.admit().admitted).toBe(false);
    now += 1000;
    const next = admitted(breaker.admit());
    lost.settle('success');
    expect(breaker.state).toBe('half-open');
    next.settle('success');
    expect(breaker.state).toBe('closed');
  });

  it('refuses bad options at construction, naming them', () => {
    expect(() => build({ failureThreshold: 0 })).toThrow(/failureThreshold/);
    expect(() => build({ failureRatePercent: 101 })).toThrow(/failureRatePercent/);
    expect(() => build({ windowSeconds: 0.5 })).toThrow(/windowSeconds/);
    expect(() => build({ openSeconds: -1 })).toThrow(/openSeconds/);
  });
});
