/**
 * The client's answer types against the catalogue: the public OpenAPI
 * document (built from the catalogue) goes through openapi-typescript, as a
 * front-end team would run it, and the TypeScript compiler must find each of
 * the client's `data` types identical to the generated one (readonly aside).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MILES_ENDPOINTS } from '../../packages/client/src';
import { buildOpenApiDocument } from '../../src/openapi/document';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const OPENAPI_TYPESCRIPT = join(ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js');
const TSC = require.resolve('typescript/bin/tsc');
const CLIENT = join(ROOT, 'packages', 'client', 'src', 'index').replace(/\\/g, '/');

const PRELUDE = `
import type { paths } from './public';
import type { MilesEndpointTypes, SessionInfo, SessionToken } from '${CLIENT}';

/** The client's types are readonly; the generated ones are not: compare without it. */
type Mutable<T> = T extends readonly (infer U)[] ? Mutable<U>[] : T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> } : T;
/** Identical types, not merely assignable: an optional field on one side only is a difference. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;
type Ok<P extends keyof paths, M extends 'get' | 'post'> = NonNullable<paths[P][M]> extends { responses: { 200: { content: { 'application/json': infer A } } } } ? A : never;
type Data<P extends keyof paths> = Ok<P, 'post'> extends { data: infer D } ? D : never;
`;

/** One line per comparison; its alias name says which, so a compiler error names the mismatch. */
function comparisons(): string[] {
  const lines = Object.entries(MILES_ENDPOINTS).map(
    ([name, entry]) => `export type ${name}DataMatches = Expect<Equal<Mutable<MilesEndpointTypes['${name}']['data']>, Data<'/api/${entry.path}'>>>;`,
  );
  lines.push(
    "export type SessionInfoMatches = Expect<Equal<Mutable<SessionInfo>, Ok<'/api/session', 'get'>>>;",
    "export type SessionTokenMatches = Expect<Equal<Mutable<SessionToken>, NonNullable<Ok<'/api/user/clientcheckcredentials', 'post'> extends { session?: infer S } ? S : never>>>;",
  );
  return lines;
}

/** Compiles `files` of `dir` together (one compiler run: it is the slow part); its error output, empty when none. */
async function typecheck(dir: string, files: readonly string[]): Promise<string> {
  const compilerOptions = { noEmit: true, strict: true, target: 'ES2022', module: 'ES2022', moduleResolution: 'bundler', lib: ['ES2022', 'DOM'], types: [] };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }));
  return run(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')], { cwd: dir }).then(
    () => '',
    (err: { stdout?: string }) => err.stdout ?? 'tsc failed',
  );
}

describe("the client's data types against the catalogue's answer schemas", () => {
  let dir: string;
  let errors: string;
  const lines = comparisons();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'miles-bff-client-types-'));
    writeFileSync(join(dir, 'public.json'), JSON.stringify(buildOpenApiDocument('front')));
    await run(process.execPath, [OPENAPI_TYPESCRIPT, join(dir, 'public.json'), '--output', join(dir, 'public.ts')], { cwd: ROOT });
    writeFileSync(join(dir, 'same.ts'), `${PRELUDE}\n${lines.join('\n')}\n`);
    // Wrong on purpose: proof that a difference fails to compile.
    writeFileSync(
      join(dir, 'differs.ts'),
      `${PRELUDE}
export type GiftListIsNotTheProgram = Expect<Equal<Mutable<MilesEndpointTypes['giftList']['data']>, Data<'/api/partner/getprog'>>>;
/** The client's earn without its optional param1 differs from the documented one. */
type Stored<T> = Extract<T, { earn: unknown }>;
export type EarnWithoutParam1 = Expect<Equal<Omit<Mutable<Stored<MilesEndpointTypes['store']['data']>['earn']>, 'param1'>, Stored<Data<'/api/generosity/store'>>['earn']>>;
`,
    );
    errors = await typecheck(dir, ['same.ts', 'differs.ts']);
  }, 120_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('are identical to what openapi-typescript makes of the public document, endpoint by endpoint', () => {
    expect(lines.length).toBe(Object.keys(MILES_ENDPOINTS).length + 2);
    // Every error line starts with its file: none may come from anything but the deliberate mismatches.
    const located = errors.split('\n').filter((line) => /^\S+\(\d+,\d+\): error /.test(line));
    expect(located.filter((line) => !line.startsWith('differs.ts('))).toEqual([]);
    expect(errors.split('\n').filter((line) => /error TS/.test(line) && !/^\S+\(\d+,\d+\): error /.test(line))).toEqual([]);
  });

  it('would be caught differing: a wrong pairing fails to compile, naming it', () => {
    expect(errors).toMatch(/differs\.ts\(\d+,\d+\): error TS2344/);
    expect(errors.match(/error TS2344/g)).toHaveLength(2);
  });
});
