import { loadSettings, SettingsError } from '../../src/config/load';

/** What the settings loader refuses in `env`, one line a problem; none when it loads. */
export function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadSettings(env);
    return [];
  } catch (err) {
    if (err instanceof SettingsError) return err.problems;
    throw err;
  }
}
