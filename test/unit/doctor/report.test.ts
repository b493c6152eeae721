import { matchingSettings } from '../../../src/doctor/dialects';
import { buildReport, renderSettingsFragment, renderText } from '../../../src/doctor/report';

const current = { jsonEncoding: 'php', signedHeadersFormat: 'object', emptyBody: '{}', signatureHeader: 'Authorization' } as const;

describe('doctor report', () => {
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
