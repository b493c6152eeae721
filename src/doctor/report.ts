/**
 * What the go-live check found: one result per check, the settings that match the upstream,
 * and every probe made. Rendered as text for an operator or as JSON for a machine.
 */

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export type CheckName = 'settings' | 'redis' | 'upstream' | 'clock' | 'dialect' | 'empty-body' | 'backend-token' | 'identity-provider';

export interface CheckResult {
  readonly name: CheckName;
  readonly status: CheckStatus;
  /** One line: what was found. */
  readonly summary: string;
  /** What to do about a `fail` or a `warn`. */
  readonly fix?: string;
  /** Measured figures, for `--json`. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** One `NAME=value` line of the settings that match the upstream. */
export interface MatchingSetting {
  readonly name: string;
  readonly value: string;
  /** The value the current settings hold. */
  readonly current: string;
  readonly differs: boolean;
}

/** One signed call of the dialect search. */
export interface ProbeAttempt {
  readonly endpoint: string;
  readonly settings: Readonly<Record<string, string>>;
  /** `accepted`, `refused` (errorCode 9), or what stopped the search. */
  readonly outcome: string;
  readonly errorCode?: number;
  readonly detail?: string;
}

export interface DoctorReport {
  readonly ok: boolean;
  readonly exitCode: 0 | 1;
  readonly checks: readonly CheckResult[];
  /** Undefined when no dialect was accepted (or none could be tried). */
  readonly matchingSettings: readonly MatchingSetting[] | undefined;
  readonly attempts: readonly ProbeAttempt[];
}

const MARK: Readonly<Record<CheckStatus, string>> = { pass: '✓', warn: '!', fail: '✗', skip: '-' };

/** Every check passed or only warned. */
export function buildReport(checks: readonly CheckResult[], matchingSettings: readonly MatchingSetting[] | undefined, attempts: readonly ProbeAttempt[]): DoctorReport {
  const ok = checks.every((c) => c.status !== 'fail');
  return { ok, exitCode: ok ? 0 : 1, checks, matchingSettings, attempts };
}

/** The settings as an env-file fragment: a changed value is preceded by a comment naming the current one. */
export function renderSettingsFragment(settings: readonly MatchingSetting[]): string {
  return settings
    .flatMap((s) => (s.differs ? [`# differs from the current ${s.name}=${s.current}`, `${s.name}=${s.value}`] : [`${s.name}=${s.value}`]))
    .join('\n');
}

export function renderText(report: DoctorReport): string {
  const lines: string[] = ['miles-bff go-live check', ''];
  for (const check of report.checks) {
    lines.push(`${MARK[check.status]} ${check.name}: ${check.summary}`);
    if (check.fix && (check.status === 'fail' || check.status === 'warn')) lines.push(`    fix: ${check.fix}`);
  }
  if (report.matchingSettings) {
    const changed = report.matchingSettings.filter((s) => s.differs).length;
    lines.push(
      '',
      changed === 0
        ? 'Settings that match the upstream (the current ones):'
        : `Settings that match the upstream (${changed} differ from the current ones, marked):`,
      renderSettingsFragment(report.matchingSettings),
    );
  }
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  const warned = report.checks.filter((c) => c.status === 'warn').length;
  lines.push('', failed === 0 ? `Ready to go live${warned ? ` (${warned} warning${warned > 1 ? 's' : ''})` : ''}.` : `Not ready: ${failed} check${failed > 1 ? 's' : ''} failed.`);
  return `${lines.join('\n')}\n`;
}

export function renderJson(report: DoctorReport): string {
  // null rather than absent: a machine reading it finds the key either way.
  return `${JSON.stringify({ ...report, matchingSettings: report.matchingSettings ?? null }, null, 2)}\n`;
}
