import { DEFAULT_PAUSE_MS, DEFAULT_TIME_LIMIT_SECONDS, DoctorUsageError, parseDoctorArgs } from '../../../src/doctor/options';

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
