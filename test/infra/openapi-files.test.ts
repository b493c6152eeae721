/**
 * The committed OpenAPI documents (docs/openapi/): current with the catalogue,
 * clean under a real OpenAPI linter (Redocly's recommended rules: no error, no
 * warning) and valid against the OpenAPI 3.1 schema, for the committed files
 * and for the document each identity mode serves.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildOpenApiDocument } from '../../src/openapi/document';
import { OPENAPI_FILES, renderOpenApiFile } from '../../src/openapi/files';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const REDOCLY = join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');

interface RedoclyReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: Array<{ ruleId: string; severity: string; message: string; location: Array<{ pointer?: string }> }>;
}

/** Redocly CLI's report on one file; it exits non-zero on errors, and the report is on stdout either way. */
async function redoclyLint(file: string): Promise<RedoclyReport> {
  const { stdout } = await run(process.execPath, [REDOCLY, 'lint', '--config', join(ROOT, 'redocly.yaml'), '--format=json', file], {
    cwd: ROOT,
    // The linter must not reach out: no telemetry, no update check.
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  return JSON.parse(stdout) as RedoclyReport;
}

/**
 * The OpenAPI schema validator on several files in one process (it compiles
 * the OpenAPI 3.1 schema once). It ships ES modules only, so it runs in a
 * child `node` rather than through Jest's CommonJS loader.
 */
async function validateApis(files: readonly string[]): Promise<Array<{ valid: boolean; errors?: unknown }>> {
  const script = `
    import { Validator } from '@seriousme/openapi-schema-validator';
    import { readFileSync } from 'node:fs';
    const results = [];
    for (const file of process.argv.slice(1)) {
      const validator = new Validator();
      const { valid, errors } = await validator.validate(JSON.parse(readFileSync(file, 'utf8')));
      results.push(valid ? { valid } : { valid, errors });
    }
    process.stdout.write(JSON.stringify(results));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, ...files], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as Array<{ valid: boolean; errors?: unknown }>;
}

let dir: string;
/** The documents to check, by name: the committed files and each identity mode's served document. */
const documents: Array<[string, string]> = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'miles-bff-openapi-'));
  documents.push(['committed public', join(ROOT, OPENAPI_FILES.front)], ['committed internal', join(ROOT, OPENAPI_FILES.back)]);
  for (const identityMode of ['jwt', 'header', 'oidc', 'insecure-body'] as const) {
    const file = join(dir, `public-${identityMode}.json`);
    writeFileSync(file, JSON.stringify(buildOpenApiDocument('front', { identityMode, sessionCookieName: '__Host-miles.sid' })));
    documents.push([`served public (${identityMode})`, file]);
  }
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the committed OpenAPI documents', () => {
  it.each(Object.entries(OPENAPI_FILES))('%s: %s is what `npm run openapi` writes now', (side, file) => {
    const committed = readFileSync(join(ROOT, file), 'utf8');
    const current = renderOpenApiFile(side as keyof typeof OPENAPI_FILES);
    if (committed !== current) throw new Error(`${file} is stale: run \`npm run openapi\` and commit the result.`);
    expect(committed).toBe(current);
  });
});

describe('the OpenAPI documents under a linter and a schema validator', () => {
  it('pass Redocly CLI lint on its recommended rules with no error and no warning', async () => {
    for (const [name, file] of documents) {
      const report = await redoclyLint(file);
      const problems = report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer ?? '?'}: ${p.message}`);
      expect([name, problems]).toEqual([name, []]);
      expect([name, report.totals]).toEqual([name, { errors: 0, warnings: 0, ignored: 0 }]);
    }
  }, 120_000);

  it('are valid against the OpenAPI 3.1 schema', async () => {
    const results = await validateApis(documents.map(([, file]) => file));
    expect(results.map((r, i) => [documents[i]![0], r])).toEqual(documents.map(([name]) => [name, { valid: true }]));
  }, 60_000);

  it('are checked for real: the validator and the linter both refuse a broken document', async () => {
    const broken = JSON.parse(readFileSync(join(ROOT, OPENAPI_FILES.front), 'utf8')) as { info: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    delete broken.info.version;
    broken.components.schemas.Unused = { type: 'object' };
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify(broken));
    const [validated] = await validateApis([file]);
    expect(validated?.valid).toBe(false);
    expect(JSON.stringify(validated?.errors)).toContain('version');
    const report = await redoclyLint(file);
    expect(report.problems.map((p) => p.ruleId)).toEqual(expect.arrayContaining(['struct', 'no-unused-components']));
  }, 120_000);
});
