import { errorCodeLabel } from '../../../src/upstream/status-map';

describe('the upstream errorCode as a metric label', () => {
  it('keeps the errorCodes the API documents, and folds any other into "other"', () => {
    for (const code of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99]) expect(errorCodeLabel(code)).toBe(String(code));
    for (const code of [12, 98, 100, 4711, -1, 1.5]) expect(errorCodeLabel(code)).toBe('other');
  });
});
