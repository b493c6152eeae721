/**
 * The `lang` of a request, as the upstream is asked for it: one of the program's languages
 * (`PROGRAM_LANGUAGES`), or none. Every distinct `lang` forwarded is a cache entry and an upstream
 * call of its own, so the set is closed: case is folded (`FR` is `fr`), a regional tag falls back
 * to its language (`fr-CA`, `fr_ca` → `fr`), and any other language is left out, which answers it
 * in the upstream's default language from the entry without `lang`.
 *
 * @example
 * const languageOf = programLanguage(['fr', 'en']);
 * languageOf('FR-ca'); // 'fr'
 * languageOf('de');    // undefined: the upstream's default
 */
export function programLanguage(languages: readonly string[]): (lang: string) => string | undefined {
  const known = new Map(languages.map((l) => [l.toLowerCase().replace(/_/g, '-'), l]));
  return (lang) => {
    const subtags = lang.toLowerCase().replace(/_/g, '-').split('-');
    // RFC 4647 lookup: drop subtags from the end until a configured language matches.
    for (let n = subtags.length; n > 0; n -= 1) {
      const match = known.get(subtags.slice(0, n).join('-'));
      if (match !== undefined) return match;
    }
    return undefined;
  };
}
