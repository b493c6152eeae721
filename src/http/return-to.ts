/**
 * The page to land on after a sign-in, from the `returnTo` a caller chose: only a same-origin
 * path (`/`, then no second `/` or `\` that a browser would read as another host, no scheme, no
 * control characters); anything else is `/`.
 *
 * @example
 * safeReturnTo('/points?tab=1'); // '/points?tab=1'
 * safeReturnTo('//evil.example'); // '/'
 */
export function safeReturnTo(text: unknown): string {
  if (typeof text !== 'string' || text.length === 0 || text.length > 2048) return '/';
  if (!text.startsWith('/') || text.startsWith('//') || text.startsWith('/\\')) return '/';
  // Browsers drop tabs and newlines from URLs and read `\` as `/`: `/\t/evil` is `//evil`.
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f || code === 0x5c) return '/';
  }
  try {
    // Resolved against a placeholder origin, a same-origin path stays on it.
    const base = 'http://same.invalid';
    const resolved = new URL(text, base);
    if (resolved.origin !== base) return '/';
    return `${resolved.pathname}${resolved.search}${resolved.hash}`;
  } catch {
    return '/';
  }
}
