/**
 * `npm test`'s pretest step (scripts/test-prerequisites.js): the decision alone, then the
 * script itself run on a fake PATH whose `apt-get` records what it is asked and "installs" by
 * writing the tool it was asked for. The machine's own packages are never touched.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

interface Requirement {
  tool: string;
  debianPackage: string;
  why: string;
  hint?: string;
}
interface Plan {
  missing: Requirement[];
  action: 'none' | 'install' | 'stop';
  command?: string;
}
interface Probe {
  executable(name: string): boolean;
  file(path: string): boolean;
  kustomizeMajor(): number | undefined;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const prerequisites = require('../../scripts/test-prerequisites.js') as {
  planPrerequisites(probe: Probe, context: { root: boolean; env: NodeJS.ProcessEnv }): Plan;
};

const SCRIPT = resolve(__dirname, '../../scripts/test-prerequisites.js');
const CHROMIUM = '/opt/test/chromium';

function probe(absent: string[], kustomizeMajor: number | null = 5): Probe {
  return {
    executable: (name) => !absent.includes(name),
    file: (path) => !absent.includes(path),
    kustomizeMajor: () => kustomizeMajor ?? undefined,
  };
}

describe('the pretest decision', () => {
  const env = { CHROMIUM_PATH: CHROMIUM };

  it('does nothing when every tool is there', () => {
    expect(prerequisites.planPrerequisites(probe([]), { root: true, env })).toEqual({ missing: [], action: 'none' });
    expect(prerequisites.planPrerequisites(probe([]), { root: false, env })).toEqual({ missing: [], action: 'none' });
  });

  it('installs the missing Debian packages, and only those, when root', () => {
    const plan = prerequisites.planPrerequisites(probe([CHROMIUM, 'php']), { root: true, env });
    expect(plan.action).toBe('install');
    expect(plan.missing.map((r) => r.debianPackage)).toEqual(['chromium', 'php-cli']);
    expect(plan.command).toBe('apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium php-cli');
  });

  it('stops and names the one command to run when not root', () => {
    const plan = prerequisites.planPrerequisites(probe(['redis-server', 'redis-cli']), { root: false, env });
    expect(plan.action).toBe('stop');
    expect(plan.command).toBe("sudo sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-tools'");
  });

  it('counts a kubectl whose kustomize is older than 5 (no components, no replacements) as missing', () => {
    expect(prerequisites.planPrerequisites(probe([], 4), { root: true, env }).missing.map((r) => r.tool)).toEqual(['kubectl']);
    expect(prerequisites.planPrerequisites(probe([], null), { root: true, env }).missing.map((r) => r.tool)).toEqual(['kubectl']);
    expect(prerequisites.planPrerequisites(probe(['kubectl'], 5), { root: true, env }).missing.map((r) => r.debianPackage)).toEqual(['kubectl']);
  });

  it('looks for Chromium where the browser tests launch it', () => {
    const plan = prerequisites.planPrerequisites(probe(['/usr/bin/chromium']), { root: true, env: {} });
    expect(plan.missing.map((r) => r.tool)).toEqual(['/usr/bin/chromium']);
  });
});

describe('the pretest script on a fake PATH', () => {
  let dir: string;
  const root = process.getuid?.() === 0;

  const tool = (name: string, body = 'exit 0'): void => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  const run = () =>
    spawnSync(process.execPath, [SCRIPT], {
      encoding: 'utf8',
      // Only the fake tools and sh: nothing of the machine's own can be found or installed.
      env: { PATH: dir, CHROMIUM_PATH: join(dir, 'chromium'), HOME: dir },
      timeout: 30_000,
    });
  const aptLog = (): string => (existsSync(join(dir, 'apt-log')) ? readFileSync(join(dir, 'apt-log'), 'utf8') : '');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'miles-bff-pretest-'));
    symlinkSync('/bin/sh', join(dir, 'sh'));
    for (const name of ['chromium', 'php', 'redis-server', 'redis-cli']) tool(name);
    tool('kubectl', 'echo "Client Version: v1.32.4"; echo "Kustomize Version: v5.5.0"');
    // "Installs" php when asked for php-cli; records every call.
    tool('apt-get', `echo "$*" >> "${dir}/apt-log"\nfor p in "$@"; do [ "$p" = php-cli ] && printf '#!/bin/sh\\n' > "${dir}/php" && /bin/chmod +x "${dir}/php"; done\nexit 0`);
    expect(dirname(process.execPath)).not.toBe(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is a no-op when everything is there: exit 0, nothing printed, apt-get never called', () => {
    const out = run();
    expect([out.status, out.stdout, out.stderr]).toEqual([0, '', '']);
    expect(aptLog()).toBe('');
  });

  it(root ? 'installs php-cli through apt-get when php is missing, then passes' : 'stops naming the sudo apt-get command when php is missing', () => {
    rmSync(join(dir, 'php'));
    const out = run();
    if (root) {
      expect([out.status, out.stderr]).toEqual([0, "pretest: installing php-cli\n"]);
      expect(aptLog()).toBe('update\ninstall -y --no-install-recommends php-cli\n');
    } else {
      expect(out.status).toBe(1);
      expect(out.stderr).toContain("sudo sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends php-cli'");
      expect(aptLog()).toBe('');
    }
  });

  it('says where kubectl comes from when the install could not bring it', () => {
    rmSync(join(dir, 'kubectl'));
    const out = run();
    expect(out.status).toBe(1);
    expect(out.stderr).toContain("kubectl (Debian package kubectl): the manifest tests render k8s/ with kubectl kustomize (kustomize 5 or later); if apt-get cannot find it, add the Kubernetes project's apt repository");
  });

  it('fails naming the tool when the install did not bring it', () => {
    rmSync(join(dir, 'redis-cli'));
    const out = run();
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('redis-cli (Debian package redis-tools)');
  });
});

describe('CI and the README', () => {
  const ROOT = resolve(__dirname, '../..');
  const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
  const commands = ci.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));

  it("run the README's test command, whose pretest step is the one list of what the tests need", () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain('npm install && npm test ');
    expect(commands.some((l) => /^npm test\b/.test(l.trim()))).toBe(true);
    expect(commands.filter((l) => /apt-get|redis-server|chromium|php|kubectl/.test(l))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.pretest).toBe('node scripts/test-prerequisites.js');
  });

  it('ends CI with one line counted from the Jest JSON report', () => {
    expect(ci).toMatch(/npm test -- --ci --json --outputFile=/);
    expect(ci.match(/console\.log\(`jest: \$\{[^`]+\} passed, \$\{failed\} failed`\)/g)).toHaveLength(1);
  });
});
