import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clockCheck, IAT_WINDOW_SECONDS, SKEW_FAIL_SECONDS, SKEW_WARN_SECONDS } from '../../src/doctor/clock';
import { dialectCandidates, matchingSettings, PROBE_BODY } from '../../src/doctor/dialects';
import { DEFAULT_PAUSE_MS, DEFAULT_TIME_LIMIT_SECONDS, DoctorUsageError, parseDoctorArgs } from '../../src/doctor/options';
import { buildReport, renderSettingsFragment, renderText } from '../../src/doctor/report';
import { encodeJson } from '../../src/upstream/json-encoding';

const current = { jsonEncoding: 'php', signedHeadersFormat: 'object', emptyBody: '{}', signatureHeader: 'Authorization' } as const;

describe('doctor options', () => {
  it('default to a bounded, paced search', () => {
    expect(parseDoctorArgs([])).toEqual({ json: false, help: false, pauseMs: DEFAULT_PAUSE_MS, timeLimitMs: DEFAULT_TIME_LIMIT_SECONDS * 1000, signatureHeaders: [] });
  });

  it('read every option, in both spellings', () => {
    expect(parseDoctorArgs(['--json', '--signature-header', 'X-A,X-B', '--signature-header=X-C', '--pause-ms=0', '--time-limit-seconds', '5'])).toEqual({
      json: true,
      help: false,
      pauseMs: 0,
      timeLimitMs: 5000,
      signatureHeaders: ['X-A', 'X-B', 'X-C'],
    });
  });

  it.each([
    [['--pause-ms', '-1'], /--pause-ms takes a whole number from 0 to 10000/],
    [['--time-limit-seconds'], /--time-limit-seconds takes a whole number/],
    [['--signature-header', 'Bad Name'], /not an HTTP header name/],
    [['--signature-header', 'x-request-id'], /itself a signed header/],
    [['--verbose'], /unknown option "--verbose"/],
  ])('refuse %j', (argv, message) => {
    expect(() => parseDoctorArgs(argv)).toThrow(DoctorUsageError);
    expect(() => parseDoctorArgs(argv)).toThrow(message);
  });
});

describe('doctor clock', () => {
  const at = Date.UTC(2026, 11, 3, 12, 0, 0);
  const date = (offsetSeconds: number): string => new Date(at + offsetSeconds * 1000).toUTCString();

  it('passes a clock in step, within the Date header resolution', () => {
    expect(clockCheck(date(0), at, at + 40)).toMatchObject({ status: 'pass', data: { skewSeconds: 0, uncertaintySeconds: 1 } });
  });

  it('judges only what the Date header proves', () => {
    expect(clockCheck(date(SKEW_WARN_SECONDS + 2), at, at + 100).status).toBe('warn');
    expect(clockCheck(date(-(SKEW_FAIL_SECONDS + 3)), at, at + 100)).toMatchObject({ status: 'fail', summary: expect.stringMatching(/^this machine is 6\d s ahead of the upstream/) });
    // A slow answer widens the span: 70 s late, a 65 s skew is not proven.
    expect(clockCheck(date(65), at, at + 70_000).status).not.toBe('fail');
  });

  it('warns without a Date header', () => {
    expect(clockCheck(undefined, at, at)).toMatchObject({ status: 'warn', summary: expect.stringMatching(/no Date header/) });
  });
});

describe('doctor dialects', () => {
  it('try the current dialect first, each combination once', () => {
    const candidates = dialectCandidates({ ...current, signatureHeader: 'X-Sig' }, ['authorization', 'X-Other', 'x-sig']);
    expect(candidates[0]).toEqual({ ...current, signatureHeader: 'X-Sig' });
    expect(candidates).toHaveLength(2 * 2 * 3);
    expect(new Set(candidates.map((c) => JSON.stringify(c))).size).toBe(candidates.length);
    expect(new Set(candidates.map((c) => c.signatureHeader))).toEqual(new Set(['X-Sig', 'Authorization', 'X-Other']));
  });

  it('probe with a body whose two encodings differ', () => {
    expect(encodeJson(PROBE_BODY, 'php')).not.toBe(encodeJson(PROBE_BODY, 'standard'));
    expect(JSON.stringify(PROBE_BODY)).toMatch(/\//);
    expect([...JSON.stringify(PROBE_BODY)].some((c) => c.charCodeAt(0) > 0x7f)).toBe(true);
  });

  it('print the matching settings as an env-file fragment, a comment before each change', () => {
    const settings = matchingSettings({ ...current, emptyBody: '[]' }, current);
    expect(renderSettingsFragment(settings)).toBe(
      'APM_JSON_ENCODING=php\nAPM_SIGNED_HEADERS_FORMAT=object\n# differs from the current APM_EMPTY_BODY={}\nAPM_EMPTY_BODY=[]\nAPM_SIGNATURE_HEADER=Authorization',
    );
    const text = renderText(buildReport([{ name: 'dialect', status: 'pass', summary: 'accepted' }], settings, []));
    expect(text).toContain('Settings that match the upstream (1 differ from the current ones, marked):');
    expect(text).toMatch(/Ready to go live\.\n$/);
  });

  it('fail the report on one failed check, not on warnings', () => {
    expect(buildReport([{ name: 'redis', status: 'warn', summary: 'w' }], undefined, []).exitCode).toBe(0);
    expect(buildReport([{ name: 'redis', status: 'warn', summary: 'w' }, { name: 'clock', status: 'fail', summary: 'f' }], undefined, []).exitCode).toBe(1);
  });
});

describe('README "Going live"', () => {
  const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
  it('states the figures the doctor uses', () => {
    expect(readme).toContain(`\`--pause-ms\` (${DEFAULT_PAUSE_MS})`);
    expect(readme).toContain(`\`--time-limit-seconds\` (${DEFAULT_TIME_LIMIT_SECONDS})`);
    expect(readme).toContain(`failed beyond ${SKEW_FAIL_SECONDS} s`);
    expect(readme).toContain(`more than ${IAT_WINDOW_SECONDS} s off`);
    expect(readme).toContain(`a warning beyond ${SKEW_WARN_SECONDS} s`);
    expect(readme).toContain(JSON.stringify(PROBE_BODY));
  });
});
