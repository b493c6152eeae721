import type { FaultKind, FaultRule } from './types';

/** A fault chosen for one call, with its parameters resolved. */
export interface FaultPlan {
  readonly kind: FaultKind;
  readonly ms: number;
  readonly status: number;
}

interface ArmedRule {
  readonly path: string | undefined;
  readonly plan: FaultPlan;
  remaining: number;
}

const FAULT_KINDS: ReadonlySet<FaultKind> = new Set(['delay', 'status', 'garbage', 'reset', 'drop-after-commit', 'delay-after-commit']);

function normalisePath(path: string): string {
  return path.replace(/^\/+/, '');
}

/**
 * Faults armed by tests, off until one is injected and reachable only from code (never over
 * HTTP). The first armed rule matching a call applies to it and counts down.
 */
export class FaultBook {
  private rules: ArmedRule[] = [];

  inject(rule: FaultRule): void {
    if (!FAULT_KINDS.has(rule.kind)) throw new TypeError(`unknown fault kind: ${String(rule.kind)}`);
    const times = rule.times ?? Number.POSITIVE_INFINITY;
    if (!(times > 0)) throw new RangeError('fault times must be positive');
    const ms = rule.ms ?? 0;
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError('fault ms must be a finite number >= 0');
    const status = rule.status ?? 503;
    if (!Number.isInteger(status) || status < 100 || status > 599) throw new RangeError('fault status must be an HTTP status');
    this.rules.push({ path: rule.path === undefined ? undefined : normalisePath(rule.path), plan: { kind: rule.kind, ms, status }, remaining: times });
  }

  clear(): void {
    this.rules = [];
  }

  /** The fault for a call to `path`, consuming one use of it; `undefined` when none. */
  take(path: string): FaultPlan | undefined {
    const rule = this.rules.find((r) => r.remaining > 0 && (r.path === undefined || r.path === path));
    if (!rule) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
    return rule.plan;
  }
}
