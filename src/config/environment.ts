import { readFileSync } from 'node:fs';
import { isSettingName, settingDefinitions, settingNames, type SettingName, type SettingValue } from './settings-table';

/** Start-up refused: one line per problem, each naming the setting. */
export class SettingsError extends Error {
  readonly code = 'ERR_SETTINGS';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SettingsError';
  }
}

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * The settings of one environment, as each group of the loader reads them.
 * Every problem is collected rather than thrown, so a refused start lists
 * them all at once.
 */
export interface SettingsReader {
  /**
   * The value of a setting, typed by the table. A refused value reads as the
   * setting's default: its problem is already listed, so the start is refused
   * whatever the later checks make of it.
   */
  get<N extends SettingName>(name: N): SettingValue<N>;
  /** Whether any of these settings was refused (a check across settings then says nothing more). */
  refused(...names: readonly SettingName[]): boolean;
  /** Lists `message` as a problem unless `condition` holds. */
  need(condition: boolean, message: string): void;
  readonly problems: string[];
  /** What was noticed without refusing, for the log. */
  readonly warnings: string[];
  readonly production: boolean;
}

/** The prefixes of our settings; an environment shared with a platform has other names in them. */
const OUR_NAMESPACES = /^(APM|SESSION|COOKIE|IDENTITY|CACHE|RATE_LIMIT|REDIS|TOKEN|INTERNAL|IDEMPOTENCY|CIRCUIT_BREAKER|OIDC)_/;

/**
 * Reads every setting of the table from `env` (or `<NAME>_FILE` for a
 * secret), listing a problem for each text its kind refuses, then for each
 * name in our namespaces that is not a setting.
 */
export function readEnvironment(env: Environment): SettingsReader {
  const problems: string[] = [];
  const warnings: string[] = [];
  const texts = new Map<SettingName, string | undefined>();
  const refused = new Set<SettingName>();

  for (const name of settingNames) {
    const def = settingDefinitions[name];
    const read = readText(name, def.secret ?? false, env);
    if ('problem' in read) {
      problems.push(read.problem);
      refused.add(name);
      continue;
    }
    texts.set(name, read.text);
    if (read.text === undefined) continue;
    const parsed = def.kind.parse(read.text, def.secret ? '<hidden>' : read.text);
    if ('problem' in parsed) {
      problems.push(`${name}: ${parsed.problem}`);
      refused.add(name);
    }
  }

  for (const key of Object.keys(env)) {
    if (!OUR_NAMESPACES.test(key)) continue;
    const base = key.endsWith('_FILE') ? key.slice(0, -5) : key;
    if (isSettingName(base) || isSettingName(key)) continue;
    // A name a typo or two away from ours was meant for this service: refusing names the fix.
    // Any other name in these namespaces belongs to someone else sharing the environment (a
    // platform's REDIS_TLS_URL, Kubernetes' service links): ignored, with a line in the log.
    if (typoOf(base)) problems.push(`${key}: unknown setting.${suggest(base)}`);
    else warnings.push(`${key}: not a setting of this service (it only shares a prefix with them); ignored.`);
  }

  const get = <N extends SettingName>(name: N): SettingValue<N> => {
    const def = settingDefinitions[name];
    const text = refused.has(name) ? undefined : texts.get(name);
    if (text === undefined) return def.default;
    const parsed = def.kind.parse(text, text);
    return 'problem' in parsed ? def.default : parsed.value;
  };

  return {
    get,
    refused: (...names) => names.some((n) => refused.has(n)),
    need: (condition, message) => {
      if (!condition) problems.push(message);
    },
    problems,
    warnings,
    production: get('NODE_ENV') === 'production',
  };
}

/** The setting's text: from the environment, from `<NAME>_FILE`, or undefined when unset or empty. */
function readText(name: SettingName, secret: boolean, env: Environment): { readonly text: string | undefined } | { readonly problem: string } {
  const direct = env[name];
  const fileVar = `${name}_FILE`;
  const file = secret ? env[fileVar] : undefined;
  if (direct !== undefined && direct !== '' && file) return { problem: `${name}: set either ${name} or ${fileVar}, not both.` };
  if (file) {
    try {
      return { text: readFileSync(file, 'utf8').replace(/\r?\n$/, '') };
    } catch (err) {
      return { problem: `${fileVar}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}).` };
    }
  }
  return { text: direct === '' ? undefined : direct };
}

/** The setting `name` misspells: the nearest of ours, at most two edits away. */
function typoOf(name: string): string | undefined {
  let best: { name: string; edits: number } | undefined;
  for (const s of settingNames) {
    const edits = distance(s, name);
    if (s !== name && edits <= 2 && (!best || edits < best.edits)) best = { name: s, edits };
  }
  return best?.name;
}

function suggest(name: string): string {
  // A typo of a known setting is the usual cause of an unknown one; else a name it starts like.
  const close = typoOf(name) ?? settingNames.find((k) => k !== name && (k.startsWith(name) || name.startsWith(k)));
  return close ? ` Did you mean ${close}?` : '';
}

function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j += 1) d[0]![j] = j;
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      // Two letters swapped (TSL for TLS) count as one edit, as a typist makes them.
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
