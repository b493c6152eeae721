import type { SandboxCall } from './types';

export const CALL_LOG_CAPACITY = 10_000;
/** Bodies are cut beyond this in the log, so that the ring stays bounded in bytes too. */
export const LOGGED_BODY_MAX_CHARS = 256 * 1024;

/** The last calls (a bounded ring) and how many calls each path received. */
export class CallLog {
  private ring: SandboxCall[] = [];
  private readonly counts = new Map<string, number>();
  private total = 0;

  record(call: SandboxCall): void {
    const body = call.body.length > LOGGED_BODY_MAX_CHARS ? call.body.slice(0, LOGGED_BODY_MAX_CHARS) : call.body;
    this.ring.push({ ...call, body });
    // Trimmed in batches so that recording stays O(1) amortised under benchmark load.
    if (this.ring.length >= CALL_LOG_CAPACITY * 2) this.ring = this.ring.slice(-CALL_LOG_CAPACITY);
    this.total += 1;
    this.counts.set(call.path, (this.counts.get(call.path) ?? 0) + 1);
  }

  /** A snapshot, oldest first: later calls do not change an array already handed out. */
  get calls(): readonly SandboxCall[] {
    return this.ring.slice(-CALL_LOG_CAPACITY);
  }

  count(path?: string): number {
    return path === undefined ? this.total : (this.counts.get(path.replace(/^\/+/, '')) ?? 0);
  }

  reset(): void {
    this.ring = [];
    this.counts.clear();
    this.total = 0;
  }
}
