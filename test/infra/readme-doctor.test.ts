import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IAT_WINDOW_SECONDS, SKEW_FAIL_SECONDS, SKEW_WARN_SECONDS } from '../../src/doctor/clock';
import { PROBE_BODY } from '../../src/doctor/dialects';
import { DEFAULT_PAUSE_MS, DEFAULT_TIME_LIMIT_SECONDS } from '../../src/doctor/options';

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
