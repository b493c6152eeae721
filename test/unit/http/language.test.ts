import { programLanguage } from '../../../src/http/language';

describe('programLanguage', () => {
  const languageOf = programLanguage(['fr', 'en']);

  it('answers a configured language as configured', () => {
    expect(languageOf('fr')).toBe('fr');
    expect(languageOf('en')).toBe('en');
  });

  it('folds case', () => {
    expect(languageOf('FR')).toBe('fr');
    expect(languageOf('En')).toBe('en');
  });

  it('falls back from a regional tag to its language, with - or _', () => {
    expect(languageOf('fr-CA')).toBe('fr');
    expect(languageOf('fr_ca')).toBe('fr');
    expect(languageOf('EN-gb')).toBe('en');
    expect(languageOf('en-Latn-US')).toBe('en');
  });

  it('leaves any other language out, for the upstream default', () => {
    expect(languageOf('de')).toBeUndefined();
    expect(languageOf('de-FR')).toBeUndefined();
    expect(languageOf('f')).toBeUndefined();
    expect(languageOf('fra')).toBeUndefined();
    expect(languageOf('')).toBeUndefined();
  });

  it('never takes a language for a prefix of another', () => {
    expect(programLanguage(['en'])('eng')).toBeUndefined();
  });

  it('prefers the longest configured tag that matches (RFC 4647 lookup)', () => {
    const regional = programLanguage(['pt', 'pt-BR']);
    expect(regional('pt-br')).toBe('pt-BR');
    expect(regional('pt_BR')).toBe('pt-BR');
    expect(regional('pt-PT')).toBe('pt');
    expect(regional('pt-BR-x-custom')).toBe('pt-BR');
  });

  it('keeps the configured spelling of a tag', () => {
    expect(programLanguage(['zh_Hant'])('ZH-hant-tw')).toBe('zh_Hant');
  });

  it('answers nothing when no language is configured', () => {
    expect(programLanguage([])('fr')).toBeUndefined();
  });
});
