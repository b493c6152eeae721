import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { encodeJson } from '../../../src/upstream/json-encoding';
import { PHP, requireTool } from '../../helpers/tools';

const FIXTURES = join(__dirname, '..', '..', 'fixtures');
const PHP_SCRIPT = join(__dirname, '..', '..', '..', 'scripts', 'php-json-vectors.php');

interface InputCase {
  name: string;
  value: unknown;
}
interface PhpVector {
  name: string;
  php: string;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

const inputs = readJson<InputCase[]>(join(FIXTURES, 'json-vectors.input.json'));
const vectors = readJson<PhpVector[]>(join(FIXTURES, 'json-vectors.php.json'));

/** Strings built to hit every escaping rule, not just whatever a generic generator favours. */
const trickyChar = fc.oneof(
  fc.constantFrom('/', '\\', '"', "'", '\u007f', '\u2028', '\u2029', '\ufeff', 'é', 'ñ', 'ü', '😀', '𠀀', '漢', 'u', 'd', '8'),
  fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
const trickyString = fc.oneof(fc.string({ unit: 'binary' }), fc.array(trickyChar, { maxLength: 24 }).map((cs) => cs.join('')));

/** JSON values as this API carries them: no floats (see encodeJson's doc comment). */
function jsonValues(key: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  return fc.letrec<{ json: unknown }>((tie) => ({
    json: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.maxSafeInteger(),
      trickyString,
      fc.array(tie('json'), { maxLength: 5 }),
      fc.dictionary(key, tie('json'), { maxKeys: 5 }),
    ),
  })).json;
}
const jsonValue = jsonValues(trickyString);

describe('encodeJson php: PHP json_encode vectors', () => {
  it('has one PHP output per input, in the same order (regenerate with `php scripts/php-json-vectors.php`)', () => {
    expect(vectors.map((v) => v.name)).toEqual(inputs.map((c) => c.name));
  });

  it.each(inputs.map((c, i) => [c.name, c.value, vectors[i]?.php] as const))('%s', (_name, value, php) => {
    expect(encodeJson(value, 'php')).toBe(php);
  });

  it('produces pure ASCII for every vector', () => {
    for (const { value } of inputs) expect(encodeJson(value, 'php')).toMatch(/^[\x20-\x7f]*$/);
  });
});

describe('encodeJson php: rules', () => {
  it('escapes slashes and non-ASCII, with lowercase hex and surrogate pairs', () => {
    expect(encodeJson({ u: 'https://a.b/c', n: 'Zoé 😀' }, 'php')).toBe('{"u":"https:\\/\\/a.b\\/c","n":"Zo\\u00e9 \\ud83d\\ude00"}');
  });

  it('keeps DEL raw, as PHP does, and escapes U+2028/U+2029', () => {
    expect(encodeJson('a\u007fb\u2028\u2029', 'php')).toBe('"a\u007fb\\u2028\\u2029"');
  });

  it('writes control characters as PHP does', () => {
    expect(encodeJson('\u0000\b\t\n\u000b\f\r\u001f', 'php')).toBe('"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f"');
  });

  it('keeps {} and [] apart, at every depth', () => {
    expect(encodeJson({ a: {}, b: [], c: [{}, []] }, 'php')).toBe('{"a":{},"b":[],"c":[{},[]]}');
  });

  it('does not take an escaped backslash followed by "ud800" for a lone surrogate', () => {
    expect(encodeJson('\\ud800', 'php')).toBe('"\\\\ud800"');
    expect(encodeJson('\\\\\\ud800', 'php')).toBe('"\\\\\\\\\\\\ud800"');
  });

  it.each([
    ['a lone high surrogate', '\ud800'],
    ['a lone low surrogate', 'a\udc00b'],
    ['a reversed pair', '\ude00\ud83d'],
    ['a high surrogate at the end', 'ok\udbff'],
    ['a lone surrogate after escaped backslashes', '\\\\\ud800'],
  ])('refuses %s, which PHP cannot represent', (_name, s) => {
    expect(() => encodeJson(s, 'php')).toThrow(RangeError);
    expect(() => encodeJson({ [s]: 1 }, 'php')).toThrow(RangeError);
    expect(() => encodeJson([{ k: s }], 'php')).toThrow(RangeError);
  });

  it('leaves out undefined properties, as JSON.stringify does', () => {
    expect(encodeJson({ a: 1, b: undefined }, 'php')).toBe('{"a":1}');
  });

  it('throws a TypeError for a value without JSON form', () => {
    expect(() => encodeJson(undefined, 'php')).toThrow(TypeError);
    expect(() => encodeJson(() => 1, 'standard')).toThrow(TypeError);
  });
});

describe('encodeJson standard', () => {
  it.each(inputs.map((c) => [c.name, c.value] as const))('is JSON.stringify for %s', (_name, value) => {
    expect(encodeJson(value, 'standard')).toBe(JSON.stringify(value));
  });

  it('is JSON.stringify for any JSON value, lone surrogates included', () => {
    fc.assert(fc.property(jsonValue, (x) => encodeJson(x, 'standard') === JSON.stringify(x)));
    expect(encodeJson('\ud800', 'standard')).toBe('"\\ud800"');
  });
});

describe('encodeJson php: properties', () => {
  it('round-trips: JSON.parse(encodeJson(x)) deep-equals x', () => {
    fc.assert(
      fc.property(jsonValue, (x) => {
        expect(JSON.parse(encodeJson(x, 'php'))).toEqual(x);
      }),
      { numRuns: 500 },
    );
  });

  it('is ASCII-only and differs from JSON.stringify only by escapes', () => {
    fc.assert(
      fc.property(jsonValue, (x) => {
        const php = encodeJson(x, 'php');
        expect(php).toMatch(/^[\x20-\x7f]*$/);
        expect(php.length).toBeGreaterThanOrEqual(JSON.stringify(x).length);
      }),
    );
  });
});

// Differential check against a real PHP (the upstream's language): whatever we
// send, an upstream that decodes and re-encodes it gets the same bytes back.
// PHP's CLI is a test prerequisite like Redis and Chromium (npm test's pretest step installs php-cli).
describe('encodeJson php: against the local php binary', () => {
  it('is a fixed point of PHP json_encode(json_decode(...)) on random values', () => {
    requireTool(PHP);
    // PHP's json_decode($t, false) refuses a property name starting with NUL
    // ("The decoded property name is invalid"): PHP reserves those for mangled
    // private members. No field of this API looks like that.
    const phpKey = trickyString.filter((k) => !k.startsWith('\u0000'));
    const values = fc.sample(jsonValues(phpKey), { numRuns: 300, seed: 20240601 });
    const dir = mkdtempSync(join(tmpdir(), 'json-encoding-'));
    try {
      const input = join(dir, 'input.json');
      const output = join(dir, 'php.json');
      // PHP decodes the text we would send, so it sees keys in the order we send them.
      const cases = values.map((v, i) => `{"name":"v${i}","value":${encodeJson(v, 'php')}}`);
      writeFileSync(input, `[${cases.join(',')}]`);
      const run = spawnSync('php', [PHP_SCRIPT, input, output], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const out = readJson<PhpVector[]>(output);
      expect(out.map((v) => v.php)).toEqual(values.map((v) => encodeJson(v, 'php')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
