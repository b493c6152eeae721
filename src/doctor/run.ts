import { loadSettings, SettingsError, type Environment } from '../config/load';
import type { Settings } from '../config/settings';
import { createLogger } from '../observability/logger';
import { createMetrics } from '../observability/metrics';
import { searchDialect } from './dialects';
import type { DoctorOptions } from './options';
import { checkIdentityProvider } from './identity-provider';
import { checkRedis } from './redis-check';
import { buildReport, type CheckResult, type DoctorReport } from './report';
import { checkReach } from './upstream-reach';

/** Longest wait for a first Redis connection. */
const REDIS_DEADLINE_MS = 5000;

function settingsCheck(settings: Settings): CheckResult {
  if (settings.production) return { name: 'settings', status: 'pass', summary: 'loaded and checked as the service loads them (NODE_ENV=production)' };
  return {
    name: 'settings',
    status: 'warn',
    summary: `loaded as the service loads them, but NODE_ENV=${settings.nodeEnv}: the production refusals were not applied`,
    fix: 'run the check with the production environment (NODE_ENV=production and every setting of the deployment)',
  };
}

/**
 * The whole go-live check: the settings through the service's own loader (its refusals
 * included), Redis, the identity provider (`IDENTITY_MODE=oidc`), the upstream's reachability and clock, then the dialect search. Never
 * changes upstream state; see README "Going live".
 */
export async function runDoctor(env: Environment, options: Pick<DoctorOptions, 'signatureHeaders' | 'pauseMs' | 'timeLimitMs'>): Promise<DoctorReport> {
  let settings: Settings;
  try {
    settings = loadSettings(env);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    return buildReport(
      err.problems.map((problem) => ({ name: 'settings', status: 'fail', summary: `the service would refuse to start: ${problem}`, fix: 'correct the setting named; the service reads it the same way' })),
      undefined,
      [],
    );
  }

  const checks: CheckResult[] = [settingsCheck(settings), await checkRedis(settings, REDIS_DEADLINE_MS)];
  if (settings.identity.oidc) checks.push(await checkIdentityProvider(settings.identity.oidc, settings.upstreamTimeoutMs));
  if (settings.upstream.kind !== 'remote') {
    checks.push({
      name: 'upstream',
      status: 'fail',
      summary: 'APM_BASE_URL is not set: the service would run the embedded sandbox simulator, not the real API',
      fix: 'set APM_BASE_URL, APM_PARTNER_ID and APM_PARTNER_SECRET (or APM_PARTNER_SECRET_FILE)',
    });
    return buildReport(checks, undefined, []);
  }

  const { baseUrl, partnerId, partnerSecret } = settings.upstream;
  const reach = await checkReach(baseUrl, settings.upstreamTimeoutMs, Date.now);
  checks.push(reach.upstream);
  if (reach.clock) checks.push(reach.clock);
  if (!reach.reachable) {
    checks.push({ name: 'dialect', status: 'skip', summary: 'not tried: the upstream is not reachable' });
    return buildReport(checks, undefined, []);
  }

  const search = await searchDialect({
    baseUrl,
    partnerId,
    partnerSecret,
    timeoutMs: settings.upstreamTimeoutMs,
    current: settings.signing,
    extraSignatureHeaders: options.signatureHeaders,
    backend: settings.internalApiKeys.length > 0,
    pauseMs: options.pauseMs,
    timeLimitMs: options.timeLimitMs,
    // The client logs every refusal loudly; here a refusal is an expected answer, reported below.
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics(),
  });
  checks.push(...search.checks);
  return buildReport(checks, search.matching, search.attempts);
}
