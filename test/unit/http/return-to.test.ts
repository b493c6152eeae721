import { safeReturnTo } from '../../../src/http/return-to';

describe('safeReturnTo', () => {
  it.each(['/', '/points', '/points?tab=1#top', '/a/b/c'])('keeps the same-origin path %j', (path) => {
    expect(safeReturnTo(path)).toBe(path);
  });

  it.each([
    'https://evil.example',
    'http://evil.example/',
    '//evil',
    '//evil.example/path',
    '/\\evil',
    '\\\\evil',
    '/\t/evil',
    '/\n/evil',
    'javascript:alert(1)',
    'points',
    '',
    ' /points',
    undefined,
    ['/a', '/b'],
    'x'.repeat(3000),
  ])('answers / for %j', (text) => {
    expect(safeReturnTo(text)).toBe('/');
  });
});
