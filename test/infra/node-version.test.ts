/**
 * One Node release for the image, the tests and the tools: the Dockerfile's tag, the pinned
 * `node` dev dependency that npm scripts run on, `engines`, `.nvmrc` and `@types/node`.
 * docs/operations.md ("Bump Node") says how to move them together.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { imageNodeVersion, majorOf, requireImageNodeMajor } from '../helpers/node-version';

const ROOT = resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
const image = imageNodeVersion();
const major = majorOf(image);

describe('the Node release', () => {
  it('runs these tests on the major of the image', () => {
    expect(majorOf(process.version)).toBe(major);
  });

  it('is the one npm scripts run: the pinned `node` dev dependency, exactly the image tag', () => {
    expect(pkg.devDependencies.node).toBe(image);
    expect(lock.packages['node_modules/node']?.version).toBe(image);
    const viaNpm = spawnSync('npm', ['exec', '--offline', '--', 'node', '-p', 'process.version'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(viaNpm.stdout.trim()).toBe(`v${image}`);
  });

  it('is an LTS major, the same in engines, .nvmrc and @types/node', () => {
    expect(major % 2).toBe(0);
    expect(pkg.engines.node).toMatch(new RegExp(`^>=${major}\\.\\d+ <${major + 1}$`));
    expect(readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim()).toBe(image);
    expect(majorOf(pkg.devDependencies['@types/node']?.replace(/^[\^~]/, '') ?? '')).toBe(major);
  });

  it('refuses a run on another major, naming how to run on the right one', () => {
    expect(() => requireImageNodeMajor(`v${major - 4}.20.2`)).toThrow(`Node ${image}`);
    expect(() => requireImageNodeMajor(`v${major}.0.0`)).not.toThrow();
  });
});
