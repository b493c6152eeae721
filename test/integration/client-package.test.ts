/**
 * The client as a front-end team gets it: both packages packed with npm, the
 * client's tarball installed (offline: it has no dependency) into a scratch
 * front-end project, an import type-checked under `moduleResolution` bundler
 * and node16 (ES module and CommonJS files), bundled by esbuild for the
 * browser (no Node built-in may be pulled in), and the bundle and the
 * CommonJS build run against a real service (sandbox upstream, real Redis).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { ensureBuilt } from '../helpers/build';
import { startTestService, type TestService } from '../helpers/service';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const TSC = require.resolve('typescript/bin/tsc');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface PackResult {
  filename: string;
  name: string;
  files: Array<{ path: string }>;
}

async function npmPack(args: readonly string[], destination: string): Promise<PackResult> {
  const { stdout } = await run(NPM, ['pack', '--json', '--pack-destination', destination, ...args], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  // Lifecycle scripts (the client's prepack build) print before the JSON.
  const [result] = JSON.parse(stdout.slice(stdout.indexOf('['))) as PackResult[];
  if (!result) throw new Error(`npm pack printed no result: ${stdout}`);
  return result;
}

/** What a front end writes: typed calls, and a field that does not exist refused by the compiler. */
const FRONT_END_SOURCE = `
import { createMilesClient, MilesBusinessError, MilesNotConnectedError, type GiftListData, type MilesClient } from '@miles-bff/client';

export async function journey(baseUrl: string): Promise<Record<string, unknown>> {
  let saved: string | undefined;
  const miles: MilesClient = createMilesClient({ baseUrl, transport: 'token', onTokenChange: (token) => (saved = token) });
  const program = await miles.getProgram({ lang: 'en' });
  const firstGiftCost: number = program.data.gifts[0]!.cost;
  const connected = await miles.connect({ partnerClientId: 'package-user', firstName: 'Grace' });
  const stored = await miles.store('purchase', { param1: 'order-42', idempotencyKey: true });
  const gifts: GiftListData = (await miles.giftList()).data;
  // @ts-expect-error: the answer types are real, not \`any\`: no such field.
  void gifts.gifts[0]!.colour;
  let refusal: number | undefined;
  try {
    await miles.buyGift('weekend_trip');
  } catch (err) {
    if (err instanceof MilesBusinessError) refusal = err.errorCode;
    else throw err;
  }
  const bought = await miles.buyGift('coffee', { idempotencyKey: true });
  const earns = await miles.historyEarns({ limit: 5 });
  const hadToken = saved !== undefined;
  await miles.logout();
  let afterLogout: string | undefined;
  try {
    await miles.historyBurns();
  } catch (err) {
    if (err instanceof MilesNotConnectedError) afterLogout = err.code;
    else throw err;
  }
  return {
    programName: program.data.program.name,
    firstGiftCost,
    user: connected.data.user.firstName,
    hadToken,
    // A same-key retry may answer the settled shape, without an earn: a front end tells them apart.
    stored: 'earn' in stored.data ? stored.data.earn.points : stored.data.alreadyApplied,
    affordable: gifts.gifts.find((g) => g.giftId === 'coffee')?.affordable,
    refusal,
    boughtGift: bought.data.burn.giftId,
    earns: earns.data.total,
    tokenAfterLogout: saved ?? null,
    afterLogout,
  };
}
`;

/** CommonJS consumers (Jest setups, older tooling) get the CJS build with its own types. */
const COMMONJS_SOURCE = `
import { createMilesClient, MILES_ENDPOINTS } from '@miles-bff/client';
export const paths: string[] = Object.values(MILES_ENDPOINTS).map((e) => e.path);
export const client = createMilesClient({ baseUrl: 'http://localhost:3000' });
`;

describe('the client package, packed, installed in a front-end project, bundled and run', () => {
  let work: string;
  let scratch: string;
  let clientPack: PackResult;
  let servicePack: PackResult;
  let svc: TestService;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'miles-bff-package-'));
    ensureBuilt();
    clientPack = await npmPack(['--workspace', 'packages/client'], work);
    servicePack = await npmPack(['--ignore-scripts'], work);

    scratch = join(work, 'front-end');
    mkdirSync(join(scratch, 'src'), { recursive: true });
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch-front-end', version: '1.0.0', private: true, type: 'module' }));
    await run(NPM, ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(work, clientPack.filename)], { cwd: scratch });
    svc = await startTestService();
  }, 240_000);

  afterAll(async () => {
    await svc?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs the client with both builds, their types and nothing else', () => {
    expect(clientPack.name).toBe('@miles-bff/client');
    const files = clientPack.files.map((f) => f.path).sort();
    expect(files).toEqual(
      [
        'README.md',
        'package.json',
        'dist/cjs/index.d.ts',
        'dist/cjs/index.js',
        'dist/cjs/package.json',
        'dist/cjs/types.d.ts',
        'dist/cjs/types.js',
        'dist/esm/index.d.ts',
        'dist/esm/index.js',
        'dist/esm/types.d.ts',
        'dist/esm/types.js',
      ].sort(),
    );
    const installed = JSON.parse(readFileSync(join(scratch, 'node_modules', '@miles-bff', 'client', 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(installed.dependencies).toBeUndefined();
    expect(installed.peerDependencies).toBeUndefined();
    expect(installed.type).toBe('module');
  });

  it('packs the service without tests, benchmarks, sources or the development secret', () => {
    const files = servicePack.files.map((f) => f.path);
    for (const needed of ['package.json', 'README.md', 'dist/server.js', 'dist/client/index.js', 'public/index.html', 'public/demo.js', 'docs/openapi/public.json', 'docs/openapi/internal.json', '.env.example']) {
      expect(files).toContain(needed);
    }
    const strays = files.filter((f) => /^(test|bench|src|scripts|packages|\.ci)\//.test(f) || f.startsWith('k8s/overlays/development/') || /\.map$/.test(f) || /(^|\/)\.env$/.test(f));
    expect(strays).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    // Importing the service package must not start a server: it has no entry point.
    expect(manifest.main).toBeUndefined();
  });

  it.each([
    ['bundler', { module: 'ESNext', moduleResolution: 'bundler' }, ['src/app.ts']],
    ['node16', { module: 'Node16', moduleResolution: 'node16' }, ['src/app.mts', 'src/legacy.cts']],
  ] as const)('type-checks an import under moduleResolution %s', async (name, options, files) => {
    for (const file of files) writeFileSync(join(scratch, file), file.endsWith('.cts') ? COMMONJS_SOURCE : FRONT_END_SOURCE);
    const compilerOptions = { ...options, target: 'ES2022', lib: ['ES2022', 'DOM'], types: [], strict: true, noEmit: true, skipLibCheck: false };
    const project = join(scratch, `tsconfig.${name}.json`);
    writeFileSync(project, JSON.stringify({ compilerOptions, files }));
    const { stdout } = await run(process.execPath, [TSC, '-p', project, '--listFiles'], { cwd: scratch }).catch((err: { stdout?: string }) => {
      throw new Error(`tsc (${name}) failed:\n${err.stdout ?? ''}`);
    });
    // The types came from the installed tarball: ESM declarations for ES modules, CJS ones for require.
    const used = stdout.split('\n').filter((line) => line.includes('@miles-bff/client'));
    expect(used.some((line) => line.includes('/dist/esm/index.d.ts'))).toBe(true);
    if (name === 'node16') expect(used.some((line) => line.includes('/dist/cjs/index.d.ts'))).toBe(true);
  }, 120_000);

  it('bundles for the browser with esbuild, pulling in no Node built-in, and the bundle works against the service', async () => {
    writeFileSync(join(scratch, 'src', 'app.ts'), FRONT_END_SOURCE);
    const outfile = join(scratch, 'dist', 'app.js');
    const result = await build({
      entryPoints: [join(scratch, 'src', 'app.ts')],
      absWorkingDir: scratch,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2020',
      outfile,
      metafile: true,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys((result.metafile as Metafile).inputs);
    expect(inputs.filter((i) => i.includes('@miles-bff/client')).length).toBeGreaterThan(0);
    for (const input of inputs) expect(input).toMatch(/^(src\/app\.ts|node_modules\/@miles-bff\/client\/dist\/esm\/[a-z]+\.js)$/);
    const bundle = readFileSync(outfile, 'utf8');
    expect(bundle).not.toMatch(/\brequire\(|from\s*["']node:|process\.env/);

    const runner = join(scratch, 'dist', 'run.mjs');
    writeFileSync(runner, "import { journey } from './app.js';\nprocess.stdout.write(JSON.stringify(await journey(process.argv[2])));\n");
    const { stdout } = await run(process.execPath, [runner, svc.url], { cwd: scratch });
    expect(JSON.parse(stdout)).toEqual({
      programName: expect.any(String),
      firstGiftCost: expect.any(Number),
      user: 'Grace',
      hadToken: true,
      stored: 50,
      affordable: true,
      refusal: 4,
      boughtGift: 'coffee',
      earns: 1,
      tokenAfterLogout: null,
      afterLogout: 'MILES_NOT_CONNECTED',
    });
  }, 120_000);

  it('runs its CommonJS build from require() against the service', async () => {
    const script = `
      const { createMilesClient, MilesApiError } = require('@miles-bff/client');
      createMilesClient({ baseUrl: process.argv[1] }).getProgram({ lang: 'fr' }).then(
        (r) => process.stdout.write(JSON.stringify({ errorMsg: r.errorMsg, gifts: r.data.gifts.length, errorClass: typeof MilesApiError })),
        (err) => { console.error(err); process.exit(1); },
      );
    `;
    const { stdout } = await run(process.execPath, ['--input-type=commonjs', '-e', script, svc.url], { cwd: scratch });
    expect(JSON.parse(stdout)).toEqual({ errorMsg: expect.any(String), gifts: expect.any(Number), errorClass: 'function' });
    expect(JSON.parse(stdout).gifts).toBeGreaterThan(0);
  }, 60_000);
});
