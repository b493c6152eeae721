import { getHeapStatistics, setFlagsFromString } from 'node:v8';

/**
 * Below this heap limit V8 treats the heap as a small device's: after each full collection it lets
 * the old space grow by only 1.3–2× the live size before the next one (×4 at 2 GB and more, the
 * default on a large machine). With the image's 128 MB limit and ~25 MB live, that is a full
 * collection every few hundred milliseconds under load, a third of the cached read's throughput
 * (docs/benchmarks.md).
 */
const SMALL_HEAP_BYTES = 2048 * 1024 * 1024;
/** Growth after a full collection: twice the live size, still far inside a 128 MB limit. */
const GROWING_PERCENT = 100;

/** The V8 flag restoring the heap's growth for a heap limit of `heapSizeLimit` bytes, or undefined. */
export function heapGrowthFlag(heapSizeLimit: number): string | undefined {
  return heapSizeLimit < SMALL_HEAP_BYTES ? `--heap-growing-percent=${GROWING_PERCENT}` : undefined;
}

/**
 * For a process whose heap is bounded (NODE_OPTIONS=--max-old-space-size=…, as in the image):
 * keeps the bound on memory without V8's small-device collection rate. Called once, first thing.
 */
export function tuneHeapGrowth(): string | undefined {
  const flag = heapGrowthFlag(getHeapStatistics().heap_size_limit);
  if (flag) setFlagsFromString(flag);
  return flag;
}
