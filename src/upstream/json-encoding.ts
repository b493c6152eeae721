/**
 * JSON text as the upstream expects it. The partner API's reference client is
 * PHP, and an upstream that re-encodes what it decoded and compares it with
 * the signed `data_body` only accepts bytes that PHP's `json_encode` would
 * produce (the upstream contract, "Encoding").
 */

/** `php`: PHP `json_encode($v)` with no flags; `standard`: `JSON.stringify`. */
export type JsonEncoding = 'php' | 'standard';

/**
 * One pass over `JSON.stringify`'s output. Its escapes of `"`, `\` and the
 * control characters are already PHP's, byte for byte (`\b \t \n \f \r`, the
 * rest `\u00XX` in lowercase; DEL 0x7f stays raw in both), so only three
 * things are left to fix:
 * - `/` → `\/`;
 * - each UTF-16 code unit ≥ 0x80 → `\uXXXX` lowercase (an astral character is
 *   two code units, which gives PHP's surrogate pair);
 * - a lone surrogate, which `JSON.stringify` writes as the escape `\udXXX`:
 *   PHP cannot hold one (its strings are UTF-8; `json_decode` refuses the
 *   escape and `json_encode` fails on the bytes), so we refuse it too.
 * The `\\\\` alternative consumes escaped backslashes so that a literal
 * backslash followed by the text `ud800` is not mistaken for an escape.
 */
const NEEDS_PHP_ESCAPE = /\\\\|\\ud[89a-f][0-9a-f]{2}|[/\u0080-\uffff]/g;

/** Escapes already computed, by code unit: the same accents recur in every body. */
const escapeCache = new Map<string, string>();

function phpEscape(match: string): string {
  if (match === '\\\\') return match;
  if (match === '/') return '\\/';
  if (match.length > 1) {
    throw new RangeError(`Cannot encode a lone UTF-16 surrogate (${match}) as PHP json_encode would: PHP refuses it`);
  }
  let escaped = escapeCache.get(match);
  if (escaped === undefined) {
    escaped = `\\u${match.charCodeAt(0).toString(16).padStart(4, '0')}`;
    // Bounded: at most one entry per BMP code unit above 0x7f (about 64k short strings).
    escapeCache.set(match, escaped);
  }
  return escaped;
}

/**
 * Encodes `value` as JSON text.
 *
 * With `php`, the result is what PHP's `json_encode($v)` (no flags) gives for
 * the same value decoded by `json_decode($text, false)`: objects stay objects,
 * so `{}` stays `{}` and `[]` stays `[]`; the text is pure ASCII.
 *
 * Numbers: this API only carries integers, and safe integers (|n| < 2^53) are
 * printed alike by both languages. Floats are not used, and PHP prints some of
 * them differently (`1.0e+21`, `1.0e-6`, `-0`), so they are not corrected here.
 *
 * Object keys come out in JavaScript's property order, which puts
 * integer-like keys ("1", "42") first; PHP keeps insertion order. That is
 * harmless because the bytes produced here are the ones sent and signed.
 *
 * @throws TypeError when `value` has no JSON form (`undefined`, a function).
 * @throws RangeError with `php` for a string holding a lone surrogate.
 */
export function encodeJson(value: unknown, encoding: JsonEncoding): string {
  const text: string | undefined = JSON.stringify(value);
  if (text === undefined) throw new TypeError('Value has no JSON representation');
  return encoding === 'php' ? text.replace(NEEDS_PHP_ESCAPE, phpEscape) : text;
}
