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
    // The same churn (short-lived objects, a little promoted), with and without the tuning.
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
    const tuned = churn(true);
    const untuned = churn(false);
    // On Node 20 the tuning took this churn from 17 full collections to 10. Node 24's V8 already
    // grows a 128 MB heap that way (10 either way): the tuning must keep that rate and never add to it.
    expect(tuned.fullGcs).toBeLessThanOrEqual(untuned.fullGcs);
    expect(tuned.fullGcs).toBeLessThanOrEqual(12);
    expect(tuned.maxHeapMb).toBeLessThan(128);
  }, 120_000);
});
