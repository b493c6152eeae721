/**
 * The Dockerfile read as text, without Docker: its stages, base images, user,
 * ports, health check, command and copies, held against package.json, the
 * settings table and the files of the repository. What `COPY --from=build`
 * takes from the build stage is checked in dist/ after `npm run build`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { load } from 'js-yaml';
import { settingsByName, settingsTable } from '../../src/config/settings-table';

const ROOT = resolve(__dirname, '../..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Joins `\` continuations, drops comments and blank lines, splits at FROM. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && !pending)) continue;
    pending += `${line.replace(/\\$/, '')} `;
    if (!line.endsWith('\\')) {
      logical.push(pending.trim());
      pending = '';
    }
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') {
      const [image = '', as, name] = args.split(/\s+/);
      stages.push({ image, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`"${line}" comes before any FROM`);
      stage.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

const words = (args: string): string[] => args.split(/\s+/).filter(Boolean);
const flagsOf = (args: string): Map<string, string> =>
  new Map(words(args).filter((w) => w.startsWith('--')).map((w) => [w.slice(2).split('=')[0] ?? '', w.split('=').slice(1).join('=')]));
const operandsOf = (args: string): string[] => words(args).filter((w) => !w.startsWith('--'));
const all = (stage: Stage, keyword: string): Instruction[] => stage.instructions.filter((i) => i.keyword === keyword);

/** `ENV A=1 B=2`, `ENV A 1`, `ARG A`, `ARG A=1` as name/value pairs. */
function assignments(i: Instruction): [string, string][] {
  if (i.keyword === 'ENV' && !/^\S+=/.test(i.args)) {
    const [name = '', ...rest] = words(i.args);
    return [[name, rest.join(' ')]];
  }
  // A double-quoted value may hold spaces (`ENV NODE_OPTIONS="--a=1 --b=2"`).
  return [...i.args.matchAll(/([^\s=]+)(?:=("[^"]*"|\S*))?/g)].map((m): [string, string] => [m[1] ?? '', (m[2] ?? '').replace(/^"|"$/g, '')]);
}

function jsonForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`not an exec-form array: ${args}`);
  return parsed;
}

const dockerfile = read('Dockerfile');
const stages = parseDockerfile(dockerfile);
const final = stages.at(-1) as Stage;
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; engines: { node: string } };
const defaultOf = (name: string): string => settingsByName.get(name)?.default ?? '';
const PORT = defaultOf('PORT');
const INTERNAL_PORT = defaultOf('INTERNAL_PORT');

/** The lines of .dockerignore, and whether one of them keeps a path out of the build context. */
const ignored = read('.dockerignore')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
function isIgnored(path: string): boolean {
  const clean = posix.normalize(path).replace(/^\.?\/|\/$/g, '');
  return ignored.some((pattern) => {
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}(/|$)`);
    return re.test(clean);
  });
}

/** Copies of the final stage: [source, from-stage or undefined for the build context]. */
function copies(stage: Stage): { from?: string; sources: string[] }[] {
  return all(stage, 'COPY').map((i) => ({ from: flagsOf(i.args).get('from'), sources: operandsOf(i.args).slice(0, -1) }));
}

describe('Dockerfile', () => {
  let buildError: string | undefined;

  beforeAll(() => {
    if (existsSync(join(ROOT, 'dist/server.js'))) return;
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 280_000 });
    if (build.status !== 0) buildError = `npm run build failed (${build.status ?? build.signal}):\n${`${build.stdout}\n${build.stderr}`.slice(-4000)}`;
  }, 300_000);

  it('has a build stage and a runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]?.name).toBe('build');
  });

  it('builds every stage from the same Node image of the LTS major in engines, pinned to a full version', () => {
    const major = /^>=(\d+)\./.exec(pkg.engines.node)?.[1];
    expect(major).toBe('24');
    for (const stage of stages) {
      expect(stage.image).toMatch(new RegExp(`^node:${major}\\.\\d+\\.\\d+-[a-z]+(-slim)?$`));
      expect(stage.image).not.toMatch(/latest/);
    }
    expect(new Set(stages.map((s) => s.image)).size).toBe(1);
  });

  it('installs everything and builds in the build stage, production dependencies only (no scripts) at run time', () => {
    const build = stages[0] as Stage;
    const runs = (stage: Stage): string => all(stage, 'RUN').map((i) => i.args).join('\n');
    expect(runs(build)).toMatch(/npm ci(?![^\n]*--omit)/);
    expect(runs(build)).toMatch(/npm run build/);
    expect(runs(final)).toMatch(/npm ci\b[^\n]*--omit=dev/);
    expect(runs(final)).toMatch(/npm ci\b[^\n]*--ignore-scripts/);
    expect(runs(final)).not.toMatch(/npm (run build|install)\b/);
  });

  it('copies into the build stage what tsconfig.build.json compiles', () => {
    const build = stages[0] as Stage;
    const sources = copies(build).flatMap((c) => c.sources);
    const tsconfig = JSON.parse(read('tsconfig.build.json')) as { extends?: string; include?: string[] };
    const needed = ['tsconfig.build.json', ...(tsconfig.extends ? [posix.normalize(tsconfig.extends)] : []), ...(tsconfig.include ?? [])];
    for (const file of needed) expect(sources).toContain(file);
  });

  it('copies from the build context only files that exist and that .dockerignore lets through', () => {
    for (const stage of stages) {
      for (const { from, sources } of copies(stage)) {
        if (from) continue;
        for (const source of sources) {
          expect([source, existsSync(join(ROOT, source))]).toEqual([source, true]);
          expect([source, isIgnored(source)]).toEqual([source, false]);
        }
      }
      expect(all(stage, 'ADD')).toEqual([]);
    }
  });

  it('ships only dist/, package*.json, production node_modules and public/', () => {
    const shipped = copies(final).flatMap((c) => c.sources.map((s) => `${c.from ?? 'context'}:${posix.basename(s)}`));
    for (const item of shipped) {
      expect(['context:package.json', 'context:package-lock.json', 'context:public', 'build:dist', 'build:node_modules']).toContain(item);
    }
    expect(shipped).toEqual(expect.arrayContaining(['build:dist', 'context:public']));
  });

  it('takes from the build stage only what `npm run build` makes (dist/server.js among it)', () => {
    expect(buildError).toBeUndefined();
    const build = stages[0] as Stage;
    const workdir = all(build, 'WORKDIR').at(-1)?.args ?? '/';
    const fromBuild = copies(final).filter((c) => c.from === build.name).flatMap((c) => c.sources);
    expect(fromBuild.length).toBeGreaterThan(0);
    for (const source of fromBuild) {
      const local = posix.relative(workdir, posix.resolve(workdir, source));
      expect(local).toMatch(/^dist(\/|$)/);
      expect([local, existsSync(join(ROOT, local))]).toEqual([local, true]);
    }
    expect(existsSync(join(ROOT, 'dist/server.js'))).toBe(true);
  });

  it('runs as a numeric non-root user, the one the Deployment expects', () => {
    const user = all(final, 'USER').at(-1)?.args ?? 'root';
    const [uid = '', gid] = user.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).not.toBe(0);
    if (gid !== undefined) expect(Number(gid)).not.toBe(0);
    expect(read('k8s/base/deployment.yaml')).toMatch(new RegExp(`runAsUser: ${uid}\\b`));
    // USER comes after every RUN, so the running user cannot change the image.
    const idx = final.instructions.findIndex((i) => i.keyword === 'USER');
    expect(final.instructions.slice(idx).some((i) => i.keyword === 'RUN')).toBe(false);
  });

  it('sets NODE_ENV=production', () => {
    const env = new Map(all(final, 'ENV').flatMap(assignments));
    expect(env.get('NODE_ENV')).toBe('production');
  });

  it("bounds the V8 old space well inside the Deployment's memory limit", () => {
    const env = new Map(all(final, 'ENV').flatMap(assignments));
    const heapMb = Number(/--max-old-space-size=(\d+)/.exec(env.get('NODE_OPTIONS') ?? '')?.[1]);
    expect(heapMb).toBeGreaterThanOrEqual(64);
    const limit = /limits:\s*\n(?:\s+\w+:.*\n)*?\s+memory:\s*(\d+)Mi/.exec(read('k8s/base/deployment.yaml'));
    expect(limit).not.toBeNull();
    // Young generation, code, buffers and native memory come on top of the old space.
    expect(heapMb).toBeLessThanOrEqual(Number(limit![1]) * 0.6);
  });

  it('keeps the young generation small beside the bounded old space', () => {
    const env = new Map(all(final, 'ENV').flatMap(assignments));
    const options = env.get('NODE_OPTIONS') ?? '';
    const heapMb = Number(/--max-old-space-size=(\d+)/.exec(options)?.[1]);
    const semiMb = Number(/--max-semi-space-size=(\d+)/.exec(options)?.[1]);
    // Unset, a semi-space grows to 32 MB under load; once the old space plus it no longer fits the
    // bound, V8 turns every scavenge into a full collection (docs/benchmarks.md, "The tail").
    expect(semiMb).toBeGreaterThanOrEqual(1);
    expect(semiMb).toBeLessThanOrEqual(heapMb / 8);
  });

  it('exposes PORT and INTERNAL_PORT at their defaults', () => {
    const exposed = all(final, 'EXPOSE').flatMap((i) => words(i.args).map((p) => p.replace(/\/tcp$/, '')));
    expect(exposed.sort()).toEqual([PORT, INTERNAL_PORT].sort());
  });

  it('checks health with node against 127.0.0.1 on INTERNAL_PORT /healthz, after a start period', () => {
    const checks = all(final, 'HEALTHCHECK');
    expect(checks).toHaveLength(1);
    const options = flagsOf((checks[0] as Instruction).args.replace(/\s+CMD\s.*$/, ''));
    expect([...options.keys()].sort()).toEqual(['interval', 'retries', 'start-period', 'timeout']);
    for (const key of ['interval', 'timeout', 'start-period']) expect([key, options.get(key)]).toEqual([key, expect.stringMatching(/^\d+s$/)]);
    expect(Number(options.get('retries'))).toBeGreaterThanOrEqual(1);
    const cmd = (checks[0] as Instruction).args.replace(/^(--\S+\s+)*CMD\s+/, '');
    const argv = jsonForm(cmd);
    expect(argv[0]).toBe('node');
    const script = argv.join(' ');
    expect(script).toContain('http://127.0.0.1:');
    expect(script).toContain(INTERNAL_PORT);
    expect(script).toContain('/healthz');
  });

  it('carries no secret: no secret setting and nothing key-like in ENV or ARG', () => {
    const secretNames = settingsTable.filter((s) => s.secret).map((s) => s.name);
    const instructions = stages.flatMap((s) => s.instructions);
    for (const [name, value] of instructions.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG').flatMap(assignments)) {
      expect([name, /SECRET|PASSWORD|TOKEN|KEY|CREDENTIAL|REDIS_URL/i.test(name)]).toEqual([name, false]);
      expect([name, /(SECRET|PASSWORD|TOKEN|KEY)\w*=/i.test(value)]).toEqual([name, false]);
    }
    const code = instructions.map((i) => `${i.keyword} ${i.args}`).join('\n');
    for (const name of secretNames) expect([name, code.includes(name)]).toEqual([name, false]);
  });

  it('ships the go-live check: what `npm run doctor` runs, from the dist/ it copies, documented beside the command', () => {
    expect(buildError).toBeUndefined();
    const argv = words(pkg.scripts.doctor ?? '');
    expect(argv).toEqual(['node', 'dist/doctor.js']);
    const fromBuild = copies(final).filter((c) => c.from === stages[0]?.name).flatMap((c) => c.sources.map((s) => posix.basename(s)));
    expect(fromBuild).toContain('dist');
    expect(existsSync(join(ROOT, argv[1]!))).toBe(true);
    // The script's own build step is the build stage's; nothing else is needed at run time.
    expect(pkg.scripts.predoctor).toBe('npm run build');
    expect(dockerfile).toContain(`node ${argv[1]}`);
  });

  it('starts with exactly what `npm start` runs after its build', () => {
    const cmds = all(final, 'CMD');
    expect(cmds).toHaveLength(1);
    expect(all(final, 'ENTRYPOINT')).toEqual([]);
    expect(jsonForm((cmds[0] as Instruction).args)).toEqual(words(pkg.scripts.start ?? ''));
  });
});

describe('dockerfilelint', () => {
  it('finds no issue, with only the rule its HEALTHCHECK parser gets wrong turned off', () => {
    const lint = spawnSync('npx', ['--no-install', 'dockerfilelint', '-o', 'json', 'Dockerfile'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const report = JSON.parse(lint.stdout) as { totalIssues: number; files: { issues: unknown[] }[] };
    expect(report.files[0]?.issues).toEqual([]);
    expect(report.totalIssues).toBe(0);
    expect(lint.status).toBe(0);
    expect(load(read('.dockerfilelintrc'))).toEqual({ rules: { invalid_format: 'off' } });
  });
});

describe('.dockerignore', () => {
  it.each(['node_modules', '.git', '.env', 'dist', 'test', 'coverage'])('keeps %s out of the build context', (path) => {
    expect(isIgnored(path)).toBe(true);
  });

  it('lets through what the build needs', () => {
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'public']) {
      expect([path, isIgnored(path)]).toEqual([path, false]);
    }
  });
});
