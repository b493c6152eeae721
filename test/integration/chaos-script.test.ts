import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureBuilt, ROOT } from '../helpers/build';
import { REDIS_SERVER, requireTool } from '../helpers/tools';

/**
 * `npm run chaos` kept working: the script itself, small (60 earns), against the built service,
 * its own Redis and the sandbox, through every fault it injects. Its exit code and JSON summary
 * are what an operator reads, so they are what is checked.
 */
const run = promisify(execFile);

interface ChaosSummary {
  requests: number;
  retries: number;
  answers: Record<string, number>;
  outcomes: { succeeded: number; refused: number; undecided: number };
  lost: number;
  doubled: number;
  unconfirmedCredited: number;
  balanceMismatch: number;
  resetsDuringDrain: number;
  drainExitCode: number | null;
  faults: Array<{ fault: string; ms: number }>;
  timeLimitReached: boolean;
  ok: boolean;
}

describe('the chaos script', () => {
  beforeAll(() => {
    requireTool(REDIS_SERVER);
    ensureBuilt();
  }, 300_000);

  it('runs every fault, loses and doubles nothing, and says so in its exit code and summary', async () => {
    const { stdout } = await run(process.execPath, [join(ROOT, 'scripts', 'chaos.js'), '--requests', '60', '--time-limit', '120', '--json'], {
      cwd: ROOT,
      timeout: 150_000,
    });
    const summary = JSON.parse(stdout.trim().split('\n').pop() ?? '') as ChaosSummary;
    expect(summary).toMatchObject({ requests: 60, lost: 0, doubled: 0, unconfirmedCredited: 0, balanceMismatch: 0, resetsDuringDrain: 0, drainExitCode: 0, timeLimitReached: false, ok: true });
    expect(summary.outcomes).toEqual({ succeeded: 60, refused: 0, undecided: 0 });
    expect(summary.faults.map((f) => f.fault)).toEqual([
      'redis SIGKILL, restarted',
      'redis CLIENT PAUSE 3000 WRITE',
      'upstream stall (after commit, 2.5 s)',
      'upstream 503',
      'replica B SIGKILL, restarted',
      'replica A SIGTERM under keep-alive load, restarted',
    ]);
    // The faults were met: some answers asked for a retry with the same key, and it settled them.
    expect(summary.retries).toBeGreaterThan(0);
    expect(Object.keys(summary.answers).some((status) => ['502', '503', '504'].includes(status))).toBe(true);
  }, 180_000);
});
