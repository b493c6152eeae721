/**
 * JSON text as the upstream's PHP would write it. PHP's `json_encode` without flags escapes
 * `/` as `\/` and every UTF-16 code unit beyond ASCII as `\uXXXX` (lowercase hex, so characters
 * beyond the BMP become a surrogate pair); otherwise it writes what `JSON.stringify` writes for
 * strings, integers, arrays and objects. Outside strings, JSON.stringify never emits `/` or a
 * non-ASCII character, so rewriting its output character by character is exact.
 */
const PHP_ESCAPED = /[/\u0080-\uffff]/g;

function phpEscape(ch: string): string {
  return ch === '/' ? '\\/' : `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

export type JsonStyle = 'php' | 'standard';

export function encodeJson(value: unknown, style: JsonStyle): string {
  const text = JSON.stringify(value);
  return style === 'php' ? text.replace(PHP_ESCAPED, phpEscape) : text;
}

/**
 * Decodes and re-encodes a JSON text, as an upstream that re-encodes would, or `undefined`
 * when the text is not JSON. Known limits, irrelevant to the flat bodies of this API: keys that
 * look like array indexes come first (JavaScript's object order), and numbers are normalised
 * the JavaScript way (`1.0` becomes `1`, where PHP keeps `1.0`).
 */
export function reEncodeJson(text: string, style: JsonStyle): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return encodeJson(value, style);
}
