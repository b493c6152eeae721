/**
 * The settings' types come from the table: `npm run typecheck` compiles this
 * file, and each `@ts-expect-error` below fails it if the line it marks ever
 * compiles (a misspelt name accepted, a value typed `any`, a setting without a
 * default read as always set). The tests check the same values at run time.
 */
import { readEnvironment, type SettingsReader } from '../../../src/config/environment';
import { settingDefinitions, type SettingSpec, type SettingValue } from '../../../src/config/settings-table';

/** Compiled, never called: uses of the reader that must not compile. */
export function misuses(r: SettingsReader): unknown[] {
  return [
    // @ts-expect-error: a misspelt name is no setting.
    r.get('PROT'),
    // @ts-expect-error: a name is checked whatever its case.
    r.get('port'),
    // @ts-expect-error: PORT is a number, not a string.
    r.get('PORT').toUpperCase(),
    // @ts-expect-error: DEMO_PAGE has no default, so it may be unset.
    ((): boolean => r.get('DEMO_PAGE'))(),
    // @ts-expect-error: an enum's value is one of its values, not any string.
    ((): 'lax' | 'strict' => r.get('COOKIE_SAMESITE'))(),
    // @ts-expect-error: a list is read-only.
    r.get('ALLOWED_ORIGINS').push('https://a.example'),
  ];
}

/** A row whose default is not of its kind's type does not compile. */
// @ts-expect-error: 'loose' is not a value of COOKIE_SAMESITE.
export const wrongDefault: SettingSpec<SettingValue<'COOKIE_SAMESITE'>> = { ...settingDefinitions.COOKIE_SAMESITE, default: 'loose' };

describe('settings typed by name', () => {
  it('reads each setting as the type its row gives, set or defaulted', () => {
    const r = readEnvironment({ PORT: '8080', COOKIE_SAMESITE: 'strict', ALLOWED_ORIGINS: 'https://a.example, https://b.example' });
    const port: number = r.get('PORT');
    const internalPort: number = r.get('INTERNAL_PORT');
    const sameSite: 'lax' | 'strict' | 'none' = r.get('COOKIE_SAMESITE');
    const origins: readonly string[] = r.get('ALLOWED_ORIGINS');
    const demoPage: boolean | undefined = r.get('DEMO_PAGE');
    const secure: boolean = r.get('COOKIE_SECURE');
    expect([port, internalPort, sameSite, origins, demoPage, secure]).toEqual([8080, 9091, 'strict', ['https://a.example', 'https://b.example'], undefined, true]);
    expect(r.problems).toEqual([]);
  });

  it('reads a refused value as its default, the problem listed once', () => {
    const r = readEnvironment({ PORT: 'eighty', REDIS_TLS: 'maybe' });
    expect([r.get('PORT'), r.get('REDIS_TLS')]).toEqual([3000, undefined]);
    expect(r.refused('PORT')).toBe(true);
    expect(r.refused('INTERNAL_PORT')).toBe(false);
    expect(r.problems).toEqual(['PORT: "eighty" is not a whole number.', 'REDIS_TLS: "maybe" is not true or false.']);
  });
});
