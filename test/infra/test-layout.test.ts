/**
 * test/unit mirrors src/: a reader looking for a module's tests finds them at the module's own
 * path, and a unit test of something that is not a module of src/ belongs in another folder
 * (test/README.md).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const UNIT = join(ROOT, 'test', 'unit');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** `test/unit/<folder>/<module>[.<topic>].test.ts` → `src/<folder>/<module>.ts`. */
function moduleOf(testFile: string): string | undefined {
  const match = /^(.*?)(\.[a-z0-9-]+)?\.test\.ts$/.exec(relative(UNIT, testFile));
  return match ? join('src', `${match[1]}.ts`) : undefined;
}

describe('test/unit', () => {
  it('holds only tests named after a module of src/, at its path', () => {
    const all = files(UNIT);
    expect(all.length).toBeGreaterThan(20);
    const strays = all.flatMap((file) => {
      const module = moduleOf(file);
      if (module && existsSync(join(ROOT, module))) return [];
      return [`${relative(ROOT, file)}: ${module ? `no module ${module}` : 'not a .test.ts file'}`];
    });
    expect(strays).toEqual([]);
  });
});
