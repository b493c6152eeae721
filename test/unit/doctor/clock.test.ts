import { clockCheck, SKEW_FAIL_SECONDS, SKEW_WARN_SECONDS } from '../../../src/doctor/clock';

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
