import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { heapGrowthFlag } from '../../src/process/heap-growth';
import { ensureBuilt } from '../helpers/build';

describe('heap growth of a bounded heap', () => {
  it("restores a 2× growth below V8's small-heap threshold, and leaves large heaps to V8", () => {
    expect(heapGrowthFlag(128 * 1024 * 1024)).toBe('--heap-growing-percent=100');
    expect(heapGrowthFlag(1024 * 1024 * 1024)).toBe('--heap-growing-percent=100');
    expect(heapGrowthFlag(4144 * 1024 * 1024)).toBeUndefined();
  });

  it('under the image\'s 128 MB bound, a churning process keeps its full collections far apart and its heap bounded', async () => {
    await ensureBuilt();
    // A churn of short-lived objects, a little promoted.
    const churn = (tune: boolean): { fullGcs: number; maxHeapMb: number } => {
      const script = `
        ${tune ? `require(${JSON.stringify(join(__dirname, '..', '..', 'dist', 'process', 'heap-growth.js'))}).tuneHeapGrowth();` : ''}
        let maxHeap = 0;
        // Objects that live long enough to be promoted, then die: in-flight requests under load.
        const ring = new Array(200_000);
        for (let i = 0; i < 4_000_000; i++) {
          ring[i % ring.length] = { i, s: 'x' + i, a: [i, i + 1] };
          if (i % 100_000 === 0) maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed);
        }
        console.log('max-heap-mb ' + maxHeap / 1048576);
      `;
      const run = spawnSync(process.execPath, ['--max-old-space-size=128', '--trace-gc', '-e', script], { encoding: 'utf8', timeout: 60_000 });
      if (run.status !== 0) throw new Error(run.stderr);
      return {
        fullGcs: run.stdout.split('\n').filter((l) => l.includes('Mark-Compact')).length,
        maxHeapMb: Number(/max-heap-mb ([\d.]+)/.exec(run.stdout)?.[1]),
      };
    };
    // On Node 20 the tuning took this churn from 17 full collections to 10, every run. On Node 24
    // V8 grows a 128 MB heap at least that well by itself, and from run to run its count varies
    // (2 to 10 here), so the untuned run is no fixed yardstick any more: the bound is absolute.
    const tuned = churn(true);
    expect(tuned.fullGcs).toBeLessThanOrEqual(12);
    expect(tuned.maxHeapMb).toBeLessThan(128);
  }, 120_000);
});
