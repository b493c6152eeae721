/**
 * The go-live check against the sandbox simulator over real HTTP, set to each dialect the
 * upstream might speak, and against each way going live can fail: every dialect must be named
 * exactly, every failure with its own message and a non-zero exit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckResult, DoctorReport } from '../../src/doctor/report';
import { runDoctor } from '../../src/doctor/run';
import { createSandboxHandler, startSandbox, type Sandbox, type SandboxReadings } from '../../src/sandbox';
import { ensureBuilt, ROOT } from '../helpers/build';
import { freePort } from '../helpers/global-setup';
import { dropPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis';
import { startRedisServer } from '../helpers/redis-server';
import { startLocalTlsRedis, type LocalTlsRedis } from '../helpers/redis-topologies';
import { OPENSSL, requireTool } from '../helpers/tools';

const partner = { id: 'doctor-partner', secret: 'doctor-secret-0123456789abcdef0123' };
const prefixes: string[] = [];
const options = { signatureHeaders: ['X-Apm-Signature'], pauseMs: 5, timeLimitMs: 30_000 };

function envFor(url: string, extra: Record<string, string> = {}): Record<string, string> {
  const prefix = uniquePrefix('doctor');
  prefixes.push(prefix);
  return { APM_BASE_URL: url, APM_PARTNER_ID: partner.id, APM_PARTNER_SECRET: partner.secret, REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix, ...extra };
}

async function withSandbox<T>(setup: { readings?: SandboxReadings; now?: () => number }, run: (sandbox: Sandbox) => Promise<T>): Promise<T> {
  const sandbox = await startSandbox({ partners: [{ ...partner }], ...setup });
  try {
    return await run(sandbox);
  } finally {
    await sandbox.close();
  }
}

function check(report: DoctorReport, name: CheckResult['name']): CheckResult {
  const found = report.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no ${name} check in ${JSON.stringify(report.checks)}`);
  return found;
}

afterAll(async () => {
  await Promise.all(prefixes.map((p) => dropPrefix(p)));
});

describe('doctor: the dialect of the upstream', () => {
  const encodings = ['php', 'standard'] as const;
  const formats = ['object', 'list'] as const;
  const empties = ['{}', '[]'] as const;
  const headers = ['Authorization', 'X-Apm-Signature'];
  const combinations = encodings.flatMap((jsonEncoding) =>
    formats.flatMap((signedHeadersFormat) => empties.flatMap((emptyBody) => headers.map((signatureHeader) => ({ jsonEncoding, signedHeadersFormat, emptyBody, signatureHeader })))),
  );

  it.each(combinations.map((c, i) => [c, i % 2 === 0] as const))('names the settings of a sandbox strict in %j (back-end keys: %s)', async (readings, backend) => {
    const report = await withSandbox({ readings }, async (sandbox) => {
      const result = await runDoctor(envFor(sandbox.url, backend ? { INTERNAL_API_KEYS: 'ops:doctor-internal-key-0123456789' } : {}), options);
      // Read-only: the program and, with back-end keys, a token; no user was created.
      expect(new Set(sandbox.calls.map((c) => c.path))).toEqual(new Set(['partner/getprog', ...(backend ? ['auth/token'] : [])]));
      return result;
    });
    expect(report.matchingSettings).toEqual([
      { name: 'APM_JSON_ENCODING', value: readings.jsonEncoding, current: 'php', differs: readings.jsonEncoding !== 'php' },
      { name: 'APM_SIGNED_HEADERS_FORMAT', value: readings.signedHeadersFormat, current: 'object', differs: readings.signedHeadersFormat !== 'object' },
      { name: 'APM_EMPTY_BODY', value: readings.emptyBody, current: '{}', differs: readings.emptyBody !== '{}' },
      { name: 'APM_SIGNATURE_HEADER', value: readings.signatureHeader, current: 'Authorization', differs: readings.signatureHeader !== 'Authorization' },
    ]);
    expect(report.exitCode).toBe(0);
    expect(check(report, 'backend-token').status).toBe(backend ? 'pass' : 'skip');
    // At most one call per combination: 2 encodings x 2 shapes x 2 headers with a body, 2 without.
    expect(report.attempts.length).toBeLessThanOrEqual(10);
    const seen = report.attempts.map((a) => JSON.stringify([a.endpoint, a.settings]));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('stops at the first call when the current settings are accepted, and marks nothing', async () => {
    const readings = { jsonEncoding: 'standard', signedHeadersFormat: 'list', emptyBody: '[]', signatureHeader: 'X-Apm-Signature' } as const;
    const report = await withSandbox({ readings }, (sandbox) =>
      runDoctor(envFor(sandbox.url, { APM_JSON_ENCODING: 'standard', APM_SIGNED_HEADERS_FORMAT: 'list', APM_EMPTY_BODY: '[]', APM_SIGNATURE_HEADER: 'X-Apm-Signature' }), { ...options, signatureHeaders: [] }),
    );
    expect(report.attempts).toHaveLength(2);
    expect(report.matchingSettings?.every((s) => !s.differs)).toBe(true);
  });

  it('finds the PHP encoding for an upstream that re-encodes the body, with a slash and an accent in the probe', async () => {
    const report = await withSandbox({ readings: { reEncodeCheck: true, signedHeadersFormat: 'object' } }, (sandbox) => runDoctor(envFor(sandbox.url, { APM_JSON_ENCODING: 'standard' }), options));
    expect(report.attempts[0]).toMatchObject({ outcome: 'refused', errorCode: 9, settings: { APM_JSON_ENCODING: 'standard' } });
    expect(report.matchingSettings?.find((s) => s.name === 'APM_JSON_ENCODING')).toEqual({ name: 'APM_JSON_ENCODING', value: 'php', current: 'standard', differs: true });
  });

  it('finds nothing in a header it was not told to try, and says so', async () => {
    const report = await withSandbox({ readings: { signatureHeader: 'X-Other-Signature' } }, (sandbox) => runDoctor(envFor(sandbox.url), { ...options, signatureHeaders: [] }));
    expect(report.exitCode).toBe(1);
    expect(report.matchingSettings).toBeUndefined();
    expect(check(report, 'dialect')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/none of the 4 dialects tried was accepted/), fix: expect.stringMatching(/--signature-header/) });
  });
});

describe('doctor: each failure with its own message and a non-zero exit', () => {
  it('a wrong secret', async () => {
    const report = await withSandbox({}, (sandbox) => runDoctor(envFor(sandbox.url, { APM_PARTNER_SECRET: 'not-the-secret-0123456789abcdef' }), options));
    expect(report.exitCode).toBe(1);
    const dialect = check(report, 'dialect');
    expect(dialect.summary).toBe('none of the 8 dialects tried was accepted: every call was refused as a signature mismatch (errorCode 9)');
    expect(dialect.fix).toMatch(/wrong APM_PARTNER_SECRET/);
    expect(report.attempts.every((a) => a.errorCode === 9)).toBe(true);
  });

  it('a wrong partner id: one call, then stop', async () => {
    const report = await withSandbox({}, (sandbox) => runDoctor(envFor(sandbox.url, { APM_PARTNER_ID: 'someone-else' }), options));
    expect(report.exitCode).toBe(1);
    expect(check(report, 'dialect')).toMatchObject({ status: 'fail', summary: 'the upstream does not know the partner id "someone-else" (errorCode 1)', fix: expect.stringMatching(/APM_PARTNER_ID/) });
    expect(report.attempts).toHaveLength(1);
  });

  it('an unreachable upstream', async () => {
    const port = await freePort();
    const report = await runDoctor(envFor(`http://127.0.0.1:${port}/2.0/`), options);
    expect(report.exitCode).toBe(1);
    expect(check(report, 'upstream')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/^unreachable: http:\/\/127\.0\.0\.1:\d+\/2\.0\/ \(ECONNREFUSED/), fix: expect.stringMatching(/no connection to 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/) });
    expect(check(report, 'dialect').status).toBe('skip');
    expect(report.attempts).toEqual([]);
  });

  it('a base URL without the API there (404)', async () => {
    const report = await withSandbox({}, (sandbox) => runDoctor(envFor(sandbox.url.replace('/2.0/', '/v9/')), options));
    expect(report.exitCode).toBe(1);
    expect(check(report, 'upstream')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/answered HTTP 404/), fix: expect.stringMatching(/APM_BASE_URL must be the API base/) });
  });

  describe('a TLS failure', () => {
    let dir: string;
    let server: Server;
    let url: string;
    beforeAll(async () => {
      requireTool(OPENSSL);
      dir = mkdtempSync(join(tmpdir(), 'miles-bff-doctor-tls-'));
      const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
      if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
      const sandbox = createSandboxHandler({ partners: [{ ...partner }] });
      server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, sandbox.handler);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/2.0/`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    });

    it('a certificate this machine does not trust', async () => {
      const report = await runDoctor(envFor(url), options);
      expect(report.exitCode).toBe(1);
      expect(check(report, 'upstream')).toMatchObject({
        status: 'fail',
        summary: expect.stringMatching(/^TLS failure with 127\.0\.0\.1:\d+: DEPTH_ZERO_SELF_SIGNED_CERT/),
        fix: expect.stringMatching(/NODE_EXTRA_CA_CERTS/),
      });
      expect(report.attempts).toEqual([]);
    });

    it('plain HTTP where TLS is expected', async () => {
      const report = await withSandbox({}, (sandbox) => runDoctor(envFor(sandbox.url.replace('http:', 'https:')), options));
      expect(report.exitCode).toBe(1);
      expect(check(report, 'upstream')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/^TLS failure with .*(EPROTO|SSL)/) });
    });
  });

  it('Redis unreachable', async () => {
    const port = await freePort();
    const report = await withSandbox({}, (sandbox) => runDoctor(envFor(sandbox.url, { REDIS_URL: `redis://127.0.0.1:${port}` }), options));
    expect(report.exitCode).toBe(1);
    expect(check(report, 'redis')).toMatchObject({ status: 'fail', summary: expect.stringMatching(new RegExp(`^cannot connect to redis://127\\.0\\.0\\.1:${port}/0 \\(standalone, TLS off\\): ECONNREFUSED: connect ECONNREFUSED`)) });
    // The upstream checks still ran: one report names every problem.
    expect(check(report, 'dialect').status).toBe('pass');
  });

  it('Redis unreachable in its REDIS_MODE: no sentinel answers', async () => {
    const port = await freePort();
    const report = await withSandbox({}, (sandbox) => runDoctor(envFor(sandbox.url, { REDIS_URL: '', REDIS_MODE: 'sentinel', REDIS_SENTINELS: `127.0.0.1:${port}` }), options));
    expect(report.exitCode).toBe(1);
    expect(check(report, 'redis')).toMatchObject({ status: 'fail', summary: `cannot connect to sentinel mymaster via 127.0.0.1:${port} (sentinel, TLS off): ERR_REDIS_NOT_CONNECTED: no sentinel of 127.0.0.1:${port} answers with a master named mymaster` });
  });

  it('a clock that leaves the upstream accepting but is not synchronised (90 s)', async () => {
    const report = await withSandbox({ now: () => Date.now() + 90_000 }, (sandbox) => runDoctor(envFor(sandbox.url), options));
    expect(report.exitCode).toBe(1);
    expect(check(report, 'clock')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/^this machine is 9\d s behind the upstream/), fix: expect.stringMatching(/synchronise this machine's clock/) });
    expect(check(report, 'dialect').status).toBe('pass');
  });

  it('a clock outside the upstream window (400 s): the signature is stale', async () => {
    const report = await withSandbox({ now: () => Date.now() - 400_000 }, (sandbox) => runDoctor(envFor(sandbox.url), options));
    expect(report.exitCode).toBe(1);
    expect(check(report, 'clock')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/^this machine is 40\d s ahead of the upstream/) });
    expect(check(report, 'dialect')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/stale.*errorCode 8/) });
    expect(report.attempts).toHaveLength(1);
  });

  it('settings the service would refuse, each named', async () => {
    const report = await runDoctor({ NODE_ENV: 'production', APM_BASE_URL: 'http://127.0.0.1:1/2.0/', APM_PARTNER_ID: partner.id }, options);
    expect(report.exitCode).toBe(1);
    const summaries = report.checks.filter((c) => c.name === 'settings' && c.status === 'fail').map((c) => c.summary);
    expect(summaries).toEqual(expect.arrayContaining([expect.stringMatching(/APM_PARTNER_SECRET: required/), expect.stringMatching(/SESSION_SECRET: required/), expect.stringMatching(/APM_BASE_URL: must be https/)]));
  });
});

describe('doctor: Redis eviction policy', () => {
  it('warns on an allkeys-* policy, which evicts live sessions', async () => {
    const redis = await startRedisServer({ args: ['--maxmemory-policy', 'allkeys-lru'] });
    try {
      const report = await withSandbox({}, (sandbox) => runDoctor(envFor(sandbox.url, { REDIS_URL: redis.url }), options));
      expect(check(report, 'redis')).toMatchObject({ status: 'warn', summary: expect.stringMatching(/maxmemory-policy allkeys-lru/), fix: expect.stringMatching(/evicts .* live sessions/) });
      expect(report.exitCode).toBe(0);
    } finally {
      await redis.close();
    }
  });
});

describe('doctor: Redis over TLS, as set', () => {
  let redis: LocalTlsRedis;
  beforeAll(async () => {
    redis = await startLocalTlsRedis();
  }, 60_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it('connects with the CA and password of the settings', async () => {
    const report = await withSandbox({}, (sandbox) => runDoctor(envFor(sandbox.url, { REDIS_URL: redis.url, REDIS_TLS_CA_FILE: redis.caFile, REDIS_PASSWORD: redis.password }), options));
    expect(check(report, 'redis')).toMatchObject({ status: 'pass', summary: expect.stringMatching(/^standalone rediss:\/\/127\.0\.0\.1:\d+\/0, TLS on \(CA from REDIS_TLS_CA_FILE\), PING/) });
  });

  it('fails on a certificate from another CA, and on a wrong password, saying which', async () => {
    const otherCa = await withSandbox({}, (sandbox) => runDoctor(envFor(sandbox.url, { REDIS_URL: redis.url, REDIS_TLS_CA_FILE: redis.otherCaFile, REDIS_PASSWORD: redis.password }), options));
    expect(check(otherCa, 'redis')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/TLS on .*certificate/i) });
    expect(otherCa.exitCode).toBe(1);
    const wrongPassword = await withSandbox({}, (sandbox) => runDoctor(envFor(sandbox.url, { REDIS_URL: redis.url, REDIS_TLS_CA_FILE: redis.caFile, REDIS_PASSWORD: 'not-the-password' }), options));
    expect(check(wrongPassword, 'redis')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/WRONGPASS|invalid username-password/i) });
  });
});

describe('node dist/doctor.js', () => {
  beforeAll(() => ensureBuilt(), 300_000);

  function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'dist', 'doctor.js'), ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('prints a readable report with the env-file fragment, and exits 0', async () => {
    const result = await withSandbox({ readings: { jsonEncoding: 'standard' } }, (sandbox) => runCli(['--pause-ms', '0'], envFor(sandbox.url)));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^✓ dialect: accepted at call 3 of at most 4: standard JSON/m);
    expect(result.stdout).toContain('# differs from the current APM_JSON_ENCODING=php\nAPM_JSON_ENCODING=standard\nAPM_SIGNED_HEADERS_FORMAT=object\nAPM_EMPTY_BODY={}\nAPM_SIGNATURE_HEADER=Authorization\n');
    // The fragment is an env file as it stands.
    const dir = mkdtempSync(join(tmpdir(), 'miles-bff-doctor-env-'));
    try {
      const fragment = result.stdout.split('marked):\n')[1]!.split('\n\n')[0]!;
      writeFileSync(join(dir, 'doctor.env'), fragment);
      const parsed = Object.fromEntries(fragment.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.split(/=(.*)/s).slice(0, 2)));
      expect(parsed).toEqual({ APM_JSON_ENCODING: 'standard', APM_SIGNED_HEADERS_FORMAT: 'object', APM_EMPTY_BODY: '{}', APM_SIGNATURE_HEADER: 'Authorization' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--json for machines, exit 1 on a failure, 2 on a bad option', async () => {
    const failed = await withSandbox({}, (sandbox) => runCli(['--json', '--pause-ms=0'], envFor(sandbox.url, { APM_PARTNER_ID: 'unknown-partner' })));
    expect(failed.code).toBe(1);
    const report = JSON.parse(failed.stdout) as DoctorReport;
    expect(report).toMatchObject({ ok: false, exitCode: 1, matchingSettings: null });
    expect(report.checks.find((c) => c.name === 'dialect')?.summary).toMatch(/does not know the partner id/);

    const bad = await runCli(['--signature-header', 'Content-Type'], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--signature-header: Content-Type is itself a signed header/);
  });
});
