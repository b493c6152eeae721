/**
 * A test that cannot run must fail and say why (a missing tool is installed by npm test's
 * pretest step, or named by it), never skip: a skipped test reads as a pass in every summary.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const TEST_ROOT = resolve(__dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(t|j)s$/.test(name) ? [path] : [];
  });
}

// Built from parts so that this file does not match itself.
const SKIPPING = new RegExp(['\\b(it|test|describe)\\.(skip|todo)\\b', '\\bx(it|test|describe)\\(', '\\b(it|test|describe)\\.only\\b'].join('|'));

describe('the test sources', () => {
  it('skip nothing, and focus on nothing', () => {
    const files = sources(TEST_ROOT);
    expect(files.length).toBeGreaterThan(40);
    const offenders = files.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => [line, i] as const)
        .filter(([line]) => SKIPPING.test(line))
        .map(([line, i]) => `${relative(TEST_ROOT, file)}:${i + 1}: ${line.trim()}`),
    );
    expect(offenders).toEqual([]);
  });
});
