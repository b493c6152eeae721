import { errorCodeLabel, methodLabel } from '../../../src/observability/metric-labels';

describe('metric labels from outside values', () => {
  it('keeps the methods the service routes, and folds any other into "other"', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) expect(methodLabel(m)).toBe(m);
    for (const m of ['PROPFIND', 'MKCOL', 'BREW', 'get']) expect(methodLabel(m)).toBe('other');
  });

  it('keeps the errorCodes the API documents, and folds any other into "other"', () => {
    for (const code of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99]) expect(errorCodeLabel(code)).toBe(String(code));
    for (const code of [12, 98, 100, 4711, -1, 1.5]) expect(errorCodeLabel(code)).toBe('other');
  });
});
