import { boundedLabel, methodLabel } from '../../../src/observability/metric-labels';

describe('metric labels from outside values', () => {
  it('keeps the methods the service routes, and folds any other into "other"', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) expect(methodLabel(m)).toBe(m);
    for (const m of ['PROPFIND', 'MKCOL', 'BREW', 'get']) expect(methodLabel(m)).toBe('other');
  });

  it('folds over the set it is given, numbers and strings alike, and holds no other', () => {
    const label = boundedLabel([1, 2]);
    expect([label(1), label(2), label(3)]).toEqual(['1', '2', 'other']);
    const names = boundedLabel(['a']);
    expect([names('a'), names('A'), names('')]).toEqual(['a', 'other', 'other']);
  });
});
