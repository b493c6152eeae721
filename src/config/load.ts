import { readEnvironment, SettingsError, type Environment, type SettingsReader } from './environment';
import { readIdentitySettings } from './identity-settings';
import { readRedisSettings } from './redis-settings';
import { readSessionSettings } from './session-settings';
import type { Settings } from './settings';
import { readTrustProxy } from './trust-proxy';
import { readUpstreamSettings } from './upstream-settings';

export { SettingsError, type Environment } from './environment';

/**
 * Reads every setting of the table from the environment (or `<NAME>_FILE`),
 * checks types, ranges and the production refusals, and returns the typed
 * settings. Throws one `SettingsError` listing every problem at once.
 *
 * Each group of related settings is read by a function of its own (here for
 * the small ones, in `<group>-settings.ts` for the others); a check that
 * spans groups takes what it needs as an argument.
 */
export function loadSettings(env: Environment = process.env): Settings {
  const r = readEnvironment(env);
  const service = readServiceSettings(r);
  const upstream = readUpstreamSettings(r);
  const redis = readRedisSettings(r);
  const session = readSessionSettings(r);
  const browser = readBrowserSettings(r);
  const identity = readIdentitySettings(r, browser.trustProxy);
  const internalApiKeys = readInternalApiKeys(r);

  if (r.problems.length > 0 || !upstream || !identity) throw new SettingsError(r.problems);
  return {
    warnings: r.warnings,
    ...service,
    demoPage: r.get('DEMO_PAGE') ?? upstream.upstream.kind === 'embedded-sandbox',
    ...upstream,
    redis,
    session,
    identity,
    ...browser,
    cache: {
      programTtlSeconds: r.get('CACHE_TTL_GETPROG_SECONDS'),
      adsTtlSeconds: r.get('CACHE_TTL_ADS_SECONDS'),
      adsScope: r.get('CACHE_SCOPE_ADS'),
      staleSeconds: r.get('CACHE_STALE_SECONDS'),
      localMs: r.get('CACHE_LOCAL_MS'),
    },
    rateLimit: {
      enabled: r.get('RATE_LIMIT_ENABLED'),
      windowSeconds: r.get('RATE_LIMIT_WINDOW_SECONDS'),
      ipMax: r.get('RATE_LIMIT_IP_MAX'),
      connectMax: r.get('RATE_LIMIT_CONNECT_MAX'),
      mutationMax: r.get('RATE_LIMIT_MUTATION_MAX'),
    },
    internalApiKeys,
    idempotencyTtlSeconds: r.get('IDEMPOTENCY_TTL_SECONDS'),
    idempotencyResolveActions: r.get('IDEMPOTENCY_RESOLVE_ACTIONS'),
    circuitBreaker: {
      enabled: r.get('CIRCUIT_BREAKER_ENABLED'),
      failureThreshold: r.get('CIRCUIT_BREAKER_FAILURE_THRESHOLD'),
      failureRatePercent: r.get('CIRCUIT_BREAKER_FAILURE_RATE_PERCENT'),
      windowSeconds: r.get('CIRCUIT_BREAKER_WINDOW_SECONDS'),
      consecutiveFailures: r.get('CIRCUIT_BREAKER_CONSECUTIVE_FAILURES'),
      openSeconds: r.get('CIRCUIT_BREAKER_OPEN_SECONDS'),
    },
  };
}

type ServiceSettings = Pick<Settings, 'nodeEnv' | 'production' | 'port' | 'internalPort' | 'host' | 'logLevel' | 'shutdownTimeoutMs' | 'shutdownIdleGraceMs'>;

/** The process: environment, listeners, log level, shutdown. */
function readServiceSettings(r: SettingsReader): ServiceSettings {
  const port = r.get('PORT');
  const internalPort = r.get('INTERNAL_PORT');
  r.need(port !== internalPort || r.refused('PORT', 'INTERNAL_PORT'), 'INTERNAL_PORT: must differ from PORT.');
  return {
    nodeEnv: r.get('NODE_ENV'),
    production: r.production,
    port,
    internalPort,
    host: r.get('HOST'),
    logLevel: r.get('LOG_LEVEL'),
    shutdownTimeoutMs: r.get('SHUTDOWN_TIMEOUT_MS'),
    shutdownIdleGraceMs: r.get('SHUTDOWN_IDLE_GRACE_MS'),
  };
}

/** What browsers and proxies may do: trusted proxies, other origins, the actions a browser may store. */
function readBrowserSettings(r: SettingsReader): Pick<Settings, 'trustProxy' | 'allowedOrigins' | 'browserActions'> {
  const trustProxy = readTrustProxy(r.get('TRUST_PROXY'));
  r.problems.push(...trustProxy.problems);
  const allowedOrigins = r.get('ALLOWED_ORIGINS').map((o) => {
    try {
      const u = new URL(o);
      if (u.origin !== o.replace(/\/$/, '')) throw new Error('not an origin');
      return u.origin;
    } catch {
      r.problems.push(`ALLOWED_ORIGINS: "${o}" is not an origin (scheme://host[:port]).`);
      return o;
    }
  });
  return { trustProxy: trustProxy.value, allowedOrigins, browserActions: r.get('BROWSER_ACTIONS') };
}

/** `INTERNAL_API_KEYS`: `name:key` entries log `name`, bare keys a fingerprint. */
function readInternalApiKeys(r: SettingsReader): Settings['internalApiKeys'] {
  return r.get('INTERNAL_API_KEYS').map((entry, i) => {
    const colon = entry.indexOf(':');
    const key = colon > 0 ? entry.slice(colon + 1) : entry;
    const id = colon > 0 ? entry.slice(0, colon) : undefined;
    r.need(key.length >= 24, `INTERNAL_API_KEYS: key #${i + 1} is shorter than 24 characters.`);
    return { id, key };
  });
}
