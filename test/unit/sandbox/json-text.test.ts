import { encodeJson, reEncodeJson } from '../../../src/sandbox/json-text';

describe('sandbox: JSON text as PHP writes it', () => {
  it('escapes slashes and every non-ASCII UTF-16 unit in lowercase hex', () => {
    expect(encodeJson({ url: 'https://a.b/c', name: 'Zoé', emoji: '😀', tab: '\t\u0001' }, 'php')).toBe(
      '{"url":"https:\\/\\/a.b\\/c","name":"Zo\\u00e9","emoji":"\\ud83d\\ude00","tab":"\\t\\u0001"}',
    );
    expect(encodeJson({ url: 'a/b' }, 'standard')).toBe('{"url":"a/b"}');
  });

  it('re-encodes a JSON text, or says it is not JSON', () => {
    expect(reEncodeJson('{ "a" : "x/y" }', 'php')).toBe('{"a":"x\\/y"}');
    expect(reEncodeJson('{"a":"x\\/y"}', 'standard')).toBe('{"a":"x/y"}');
    expect(reEncodeJson('{nope', 'php')).toBeUndefined();
  });
});
