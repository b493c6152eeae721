import { readFileSync } from 'node:fs';
import { builtInCatalogue } from '../upstream/catalogue';
import { readCatalogueFile } from '../upstream/catalogue-file';
import { settingsTable, type SettingDefinition } from './settings-table';
import { conformsTo, fields } from '../upstream/fields';
import { overlyBroadTrust, readTrustProxy } from './trust-proxy';
import type { RedisConnectionSettings, RedisEndpoint, RedisMode, RedisTopology, Settings } from './settings';

/** Start-up refused: one line per problem, each naming the setting. */
export class SettingsError extends Error {
  readonly code = 'ERR_SETTINGS';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SettingsError';
  }
}

export type RawValue = string | number | boolean | string[] | undefined;
export type Environment = Readonly<Record<string, string | undefined>>;

/** A language as a request's `lang` may name it. */
const isLanguageTag = conformsTo(fields.lang);

/** A path into a JSON object: property names joined by dots. */
const FIELD_PATH = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** The prefixes of our settings; an environment shared with a platform has other names in them. */
const OUR_NAMESPACES = /^(APM|SESSION|COOKIE|IDENTITY|CACHE|RATE_LIMIT|REDIS|TOKEN|INTERNAL|IDEMPOTENCY|CIRCUIT_BREAKER)_/;

/** The setting `name` misspells: the nearest of ours, at most two edits away. */
function typoOf(name: string): string | undefined {
  let best: { name: string; edits: number } | undefined;
  for (const s of settingsTable) {
    const edits = distance(s.name, name);
    if (s.name !== name && edits <= 2 && (!best || edits < best.edits)) best = { name: s.name, edits };
  }
  return best?.name;
}

function suggest(name: string): string {
  // A typo of a known setting is the usual cause of an unknown one; else a name it starts like.
  const close = typoOf(name) ?? settingsTable.map((s) => s.name).find((k) => k !== name && (k.startsWith(name) || name.startsWith(k)));
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

function readRaw(def: SettingDefinition, env: Environment, problems: string[]): string | undefined {
  const direct = env[def.name];
  const fileVar = `${def.name}_FILE`;
  const file = def.secret ? env[fileVar] : undefined;
  if (direct !== undefined && direct !== '' && file) {
    problems.push(`${def.name}: set either ${def.name} or ${fileVar}, not both.`);
    return undefined;
  }
  if (file) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(`${fileVar}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}).`);
      return undefined;
    }
  }
  if (direct === undefined || direct === '') return def.default === '' ? '' : def.default;
  return direct;
}

function parseValue(def: SettingDefinition, raw: string, problems: string[]): RawValue {
  const kind = def.kind;
  switch (kind.type) {
    case 'string':
      return raw;
    case 'url': {
      try {
        const u = new URL(raw);
        if (!/^(https?|rediss?):$/.test(u.protocol)) throw new Error('scheme');
        return raw;
      } catch {
        problems.push(`${def.name}: "${def.secret ? '<hidden>' : raw}" is not a valid URL.`);
        return undefined;
      }
    }
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) {
        problems.push(`${def.name}: "${raw}" is not a whole number.`);
        return undefined;
      }
      const n = Number(raw.trim());
      if (n < kind.min || n > kind.max) {
        problems.push(`${def.name}: ${n} is outside ${kind.min}..${kind.max}.`);
        return undefined;
      }
      return n;
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (TRUE.has(v)) return true;
      if (FALSE.has(v)) return false;
      problems.push(`${def.name}: "${raw}" is not true or false.`);
      return undefined;
    }
    case 'enum':
      if (!kind.values.includes(raw.trim())) {
        problems.push(`${def.name}: "${raw}" is not one of ${kind.values.join(', ')}.`);
        return undefined;
      }
      return raw.trim();
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
  }
}

/**
 * Reads every setting of the table from the environment (or `<NAME>_FILE`),
 * checks types, ranges and the production refusals, and returns the typed
 * settings. Throws one `SettingsError` listing every problem at once.
 */
export function loadSettings(env: Environment = process.env): Settings {
  const problems: string[] = [];
  const raw = new Map<string, RawValue>();
  for (const def of settingsTable) {
    const text = readRaw(def, env, problems);
    raw.set(def.name, text === undefined ? undefined : parseValue(def, text, problems));
  }
  const warnings: string[] = [];
  for (const key of Object.keys(env)) {
    if (!OUR_NAMESPACES.test(key)) continue;
    const base = key.endsWith('_FILE') ? key.slice(0, -5) : key;
    if (settingsTable.some((s) => s.name === base || s.name === key)) continue;
    // A name a typo or two away from ours was meant for this service: refusing names the fix.
    // Any other name in these namespaces belongs to someone else sharing the environment (a
    // platform's REDIS_TLS_URL, Kubernetes' service links): ignored, with a line in the log.
    if (typoOf(base)) problems.push(`${key}: unknown setting.${suggest(base)}`);
    else warnings.push(`${key}: not a setting of this service (it only shares a prefix with them); ignored.`);
  }

  const get = <T extends RawValue>(name: string): T => raw.get(name) as T;
  const production = get<string>('NODE_ENV') === 'production';
  const need = (cond: boolean, message: string): void => {
    if (!cond) problems.push(message);
  };

  const baseUrl = get<string | undefined>('APM_BASE_URL');
  const partnerId = get<string | undefined>('APM_PARTNER_ID');
  const partnerSecret = get<string | undefined>('APM_PARTNER_SECRET');
  const redisUrl = get<string | undefined>('REDIS_URL');
  const redisMode = get<RedisMode>('REDIS_MODE') ?? 'standalone';
  const redisConnection = readRedisConnection(get, problems);
  const sessionSecrets = get<string[] | undefined>('SESSION_SECRET') ?? [];
  const identityModeSet = get<string | undefined>('IDENTITY_MODE');
  const identityMode = (identityModeSet ?? (production ? undefined : 'insecure-body')) as Settings['identity']['mode'] | undefined;

  if (production) {
    need(Boolean(baseUrl), 'APM_BASE_URL: required when NODE_ENV=production (the embedded sandbox is for development only).');
    need(Boolean(redisConnection) || problems.some((p) => /^REDIS_\w+: required/.test(p)), redisRequiredMessage(redisMode));
    need(Boolean(identityModeSet), 'IDENTITY_MODE: required when NODE_ENV=production (jwt or header).');
    need(identityModeSet !== 'insecure-body', 'IDENTITY_MODE: insecure-body is refused when NODE_ENV=production (it trusts what the browser claims).');
    need(sessionSecrets.length > 0, 'SESSION_SECRET: required when NODE_ENV=production (32 characters or more).');
  }
  if (baseUrl) {
    need(Boolean(partnerId), 'APM_PARTNER_ID: required when APM_BASE_URL is set.');
    need(Boolean(partnerSecret), 'APM_PARTNER_SECRET: required when APM_BASE_URL is set (or APM_PARTNER_SECRET_FILE).');
    need(baseUrl.endsWith('/'), 'APM_BASE_URL: must end with "/" (e.g. https://api-sandbox.appsmiles.eu/2.0/).');
    if (production) need(baseUrl.startsWith('https://'), 'APM_BASE_URL: must be https:// when NODE_ENV=production.');
  }
  sessionSecrets.forEach((s, i) => need(s.length >= 32, `SESSION_SECRET: secret #${i + 1} is shorter than 32 characters.`));

  const tokenKeys = (get<string[] | undefined>('TOKEN_ENCRYPTION_KEY') ?? []).map((k, i) => {
    const buf = /^[0-9a-fA-F]{64}$/.test(k) ? Buffer.from(k, 'hex') : Buffer.from(k, 'base64');
    need(buf.length === 32, `TOKEN_ENCRYPTION_KEY: key #${i + 1} is not 32 bytes (64 hex or 44 base64 characters).`);
    return buf;
  });

  const cookieSecure = get<boolean>('COOKIE_SECURE');
  const sameSite = get<'lax' | 'strict' | 'none'>('COOKIE_SAMESITE');
  need(!(sameSite === 'none' && cookieSecure === false), 'COOKIE_SAMESITE: none needs COOKIE_SECURE=true (browsers refuse it otherwise).');
  if (production) need(cookieSecure !== false, 'COOKIE_SECURE: false is refused when NODE_ENV=production.');

  if (identityMode === 'jwt') {
    const sources = ['IDENTITY_JWKS_URL', 'IDENTITY_JWT_SECRET', 'IDENTITY_JWT_PUBLIC_KEY'].filter((n) => get(n));
    need(sources.length === 1, `IDENTITY_MODE=jwt: set exactly one of IDENTITY_JWKS_URL, IDENTITY_JWT_SECRET, IDENTITY_JWT_PUBLIC_KEY (found ${sources.length}).`);
    need(Boolean(get('IDENTITY_JWT_ISSUER')), 'IDENTITY_JWT_ISSUER: required when IDENTITY_MODE=jwt.');
    need(Boolean(get('IDENTITY_JWT_AUDIENCE')), 'IDENTITY_JWT_AUDIENCE: required when IDENTITY_MODE=jwt.');
    const hs = get<string | undefined>('IDENTITY_JWT_SECRET');
    if (hs) need(hs.length >= 32, 'IDENTITY_JWT_SECRET: shorter than 32 characters.');
  }
  const trustProxy = readTrustProxy(get<string>('TRUST_PROXY') ?? 'false');
  problems.push(...trustProxy.problems);
  if (identityMode === 'header') {
    // The identity headers are believed from whatever TRUST_PROXY trusts: anything but the
    // ingress' own addresses would let a direct caller connect as anyone.
    if (trustProxy.value === false) {
      problems.push('IDENTITY_MODE=header: needs TRUST_PROXY naming the ingress, or anyone could send the identity headers.');
    }
    const reasons = trustProxy.value === false ? [] : overlyBroadTrust(trustProxy.value);
    if (reasons.length > 0) {
      problems.push(`TRUST_PROXY: with IDENTITY_MODE=header it must list the ingress' addresses or CIDRs (e.g. 10.244.0.0/16), and ${reasons.join('; ')}: any direct caller could send the identity headers.`);
    }
  }

  const allowedOrigins = (get<string[]>('ALLOWED_ORIGINS') ?? []).map((o) => {
    try {
      const u = new URL(o);
      if (u.origin !== o.replace(/\/$/, '')) throw new Error('not an origin');
      return u.origin;
    } catch {
      problems.push(`ALLOWED_ORIGINS: "${o}" is not an origin (scheme://host[:port]).`);
      return o;
    }
  });
  const apiKeys = (get<string[]>('INTERNAL_API_KEYS') ?? []).map((entry, i) => {
    const colon = entry.indexOf(':');
    const key = colon > 0 ? entry.slice(colon + 1) : entry;
    const id = colon > 0 ? entry.slice(0, colon) : undefined;
    need(key.length >= 24, `INTERNAL_API_KEYS: key #${i + 1} is shorter than 24 characters.`);
    return { id, key };
  });

  const programLanguages = get<string[]>('PROGRAM_LANGUAGES') ?? [];
  need(programLanguages.length > 0, 'PROGRAM_LANGUAGES: name at least one language (e.g. fr,en).');
  for (const lang of programLanguages) {
    need(isLanguageTag(lang), `PROGRAM_LANGUAGES: "${lang}" is not a language tag (e.g. fr, en, pt-BR).`);
  }

  const fieldPath = (name: string): string[] => {
    const value = get<string>(name) ?? '';
    need(FIELD_PATH.test(value), `${name}: "${value}" is not a field path (names of letters, digits, _ or $, joined by dots, e.g. token or auth.accessToken).`);
    return value.split('.');
  };
  const backendTokenField = fieldPath('APM_BACKEND_TOKEN_FIELD');
  const backendExpiresInField = fieldPath('APM_BACKEND_TOKEN_EXPIRES_IN_FIELD');

  const catalogueFile = get<string | undefined>('APM_CATALOGUE_FILE');
  let catalogue = builtInCatalogue;
  if (catalogueFile) {
    const read = readCatalogueFile(catalogueFile);
    for (const p of read.problems) problems.push(`APM_CATALOGUE_FILE: ${p}`);
    catalogue = read.catalogue;
  }

  const notAppliedStatuses = (get<string[]>('UPSTREAM_NOT_APPLIED_STATUSES') ?? []).map((text) => {
    const status = Number(text);
    need(/^\d{3}$/.test(text) && status >= 400 && status <= 599, `UPSTREAM_NOT_APPLIED_STATUSES: "${text}" is not an HTTP error status (400-599).`);
    return status;
  });

  const port = get<number>('PORT');
  const internalPort = get<number>('INTERNAL_PORT');
  need(port !== internalPort, 'INTERNAL_PORT: must differ from PORT.');
  need(
    (get<number>('SESSION_ABSOLUTE_TTL_SECONDS') ?? 0) >= (get<number>('SESSION_TTL_SECONDS') ?? 0),
    'SESSION_ABSOLUTE_TTL_SECONDS: must not be shorter than SESSION_TTL_SECONDS.',
  );

  if (problems.length > 0) throw new SettingsError(problems);

  const cookieBase = get<string>('SESSION_COOKIE_NAME');
  return {
    warnings,
    nodeEnv: get<string>('NODE_ENV'),
    production,
    port,
    internalPort,
    host: get<string>('HOST'),
    logLevel: get<Settings['logLevel']>('LOG_LEVEL'),
    shutdownTimeoutMs: get<number>('SHUTDOWN_TIMEOUT_MS'),
    shutdownIdleGraceMs: get<number>('SHUTDOWN_IDLE_GRACE_MS'),
    demoPage: get<boolean | undefined>('DEMO_PAGE') ?? !baseUrl,
    upstream: baseUrl
      ? { kind: 'remote', baseUrl, partnerId: partnerId!, partnerSecret: partnerSecret! }
      : { kind: 'embedded-sandbox' },
    upstreamTimeoutMs: get<number>('APM_TIMEOUT_MS'),
    upstreamMaxSockets: get<number>('APM_MAX_SOCKETS'),
    signing: {
      jsonEncoding: get<'php' | 'standard'>('APM_JSON_ENCODING'),
      signedHeadersFormat: get<'object' | 'list'>('APM_SIGNED_HEADERS_FORMAT'),
      emptyBody: get<'{}' | '[]'>('APM_EMPTY_BODY'),
      signatureHeader: get<string>('APM_SIGNATURE_HEADER'),
    },
    catalogue,
    backendToken: {
      tokenField: backendTokenField,
      expiresInField: backendExpiresInField,
      defaultTtlSeconds: get<number>('APM_BACKEND_TOKEN_DEFAULT_TTL_SECONDS'),
    },
    redis: {
      url: redisUrl,
      mode: redisMode,
      connection: redisConnection,
      keyPrefix: get<string>('REDIS_KEY_PREFIX'),
      commandTimeoutMs: get<number>('REDIS_COMMAND_TIMEOUT_MS'),
    },
    session: {
      secrets: sessionSecrets,
      cookieName: cookieSecure ? `__Host-${cookieBase}` : cookieBase,
      idleTtlSeconds: get<number>('SESSION_TTL_SECONDS'),
      absoluteTtlSeconds: get<number>('SESSION_ABSOLUTE_TTL_SECONDS'),
      maxPerUser: get<number>('SESSION_MAX_PER_USER'),
      tokenEncryptionKeys: tokenKeys,
      cookieSecure,
      cookieSameSite: sameSite,
    },
    identity: {
      mode: identityMode!,
      jwksUrl: get('IDENTITY_JWKS_URL'),
      jwtSecret: get('IDENTITY_JWT_SECRET'),
      jwtPublicKey: get('IDENTITY_JWT_PUBLIC_KEY'),
      jwtIssuer: get('IDENTITY_JWT_ISSUER'),
      jwtAudience: get('IDENTITY_JWT_AUDIENCE'),
      clockToleranceSeconds: get<number>('IDENTITY_JWT_CLOCK_TOLERANCE_SECONDS'),
      headerUser: get<string>('IDENTITY_HEADER_USER').toLowerCase(),
      headerEmail: get<string>('IDENTITY_HEADER_EMAIL').toLowerCase(),
    },
    trustProxy: trustProxy.value,
    allowedOrigins,
    browserActions: get<string[]>('BROWSER_ACTIONS'),
    programLanguages,
    cache: {
      programTtlSeconds: get<number>('CACHE_TTL_GETPROG_SECONDS'),
      adsTtlSeconds: get<number>('CACHE_TTL_ADS_SECONDS'),
      adsScope: get<'global' | 'user'>('CACHE_SCOPE_ADS'),
      staleSeconds: get<number>('CACHE_STALE_SECONDS'),
      localMs: get<number>('CACHE_LOCAL_MS'),
    },
    rateLimit: {
      enabled: get<boolean>('RATE_LIMIT_ENABLED'),
      windowSeconds: get<number>('RATE_LIMIT_WINDOW_SECONDS'),
      ipMax: get<number>('RATE_LIMIT_IP_MAX'),
      connectMax: get<number>('RATE_LIMIT_CONNECT_MAX'),
      mutationMax: get<number>('RATE_LIMIT_MUTATION_MAX'),
    },
    internalApiKeys: apiKeys,
    idempotencyTtlSeconds: get<number>('IDEMPOTENCY_TTL_SECONDS'),
    idempotencyResolveActions: get<string[]>('IDEMPOTENCY_RESOLVE_ACTIONS') ?? [],
    upstreamNotAppliedStatuses: notAppliedStatuses,
    circuitBreaker: {
      enabled: get<boolean>('CIRCUIT_BREAKER_ENABLED'),
      failureThreshold: get<number>('CIRCUIT_BREAKER_FAILURE_THRESHOLD'),
      failureRatePercent: get<number>('CIRCUIT_BREAKER_FAILURE_RATE_PERCENT'),
      windowSeconds: get<number>('CIRCUIT_BREAKER_WINDOW_SECONDS'),
      consecutiveFailures: get<number>('CIRCUIT_BREAKER_CONSECUTIVE_FAILURES'),
      openSeconds: get<number>('CIRCUIT_BREAKER_OPEN_SECONDS'),
    },
  };
}

function redisRequiredMessage(mode: RedisMode): string {
  const what = mode === 'sentinel' ? 'REDIS_SENTINELS' : mode === 'cluster' ? 'REDIS_CLUSTER_NODES (or REDIS_URL)' : 'REDIS_URL';
  return `${what}: required when NODE_ENV=production (in-process stores do not survive restarts or span replicas).`;
}

/** `host:port` (IPv6 as `[::1]:port`), the port defaulting to `defaultPort`. */
function parseEndpoint(setting: string, text: string, defaultPort: number, problems: string[]): RedisEndpoint | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]+))(?::(\d{1,5}))?$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
  if (!host || port < 1 || port > 65535) {
    problems.push(`${setting}: "${text}" is not host:port.`);
    return undefined;
  }
  return { host, port };
}

/**
 * The Redis connection of `REDIS_MODE` from the REDIS_* settings, or
 * undefined when no Redis is configured (the in-process stores). Every
 * inconsistency is a problem naming the setting: a setting of another mode
 * (most often a forgotten `REDIS_MODE`), credentials given twice, TLS asked
 * of a `redis://` URL, an unreadable CA file, a hash tag in the key prefix of
 * a cluster.
 */
function readRedisConnection(get: <T extends RawValue>(name: string) => T, problems: string[]): RedisConnectionSettings | undefined {
  const mode = get<RedisMode | undefined>('REDIS_MODE') ?? 'standalone';
  const urlText = get<string | undefined>('REDIS_URL');
  const sentinelList = get<string[] | undefined>('REDIS_SENTINELS') ?? [];
  const clusterList = get<string[] | undefined>('REDIS_CLUSTER_NODES') ?? [];
  const sentinelPassword = get<string | undefined>('REDIS_SENTINEL_PASSWORD');
  const need = (cond: boolean, message: string): void => {
    if (!cond) problems.push(message);
  };

  need(mode === 'sentinel' || sentinelList.length === 0, `REDIS_SENTINELS: only used with REDIS_MODE=sentinel (REDIS_MODE is ${mode}).`);
  need(mode === 'sentinel' || !sentinelPassword, `REDIS_SENTINEL_PASSWORD: only used with REDIS_MODE=sentinel (REDIS_MODE is ${mode}).`);
  need(mode === 'cluster' || clusterList.length === 0, `REDIS_CLUSTER_NODES: only used with REDIS_MODE=cluster (REDIS_MODE is ${mode}).`);
  need(mode !== 'sentinel' || !urlText, 'REDIS_URL: not used with REDIS_MODE=sentinel (the sentinels name the master); use REDIS_SENTINELS, REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS.');
  if (mode === 'cluster') {
    const prefix = get<string>('REDIS_KEY_PREFIX') ?? '';
    need(!/[{}]/.test(prefix), 'REDIS_KEY_PREFIX: no { or } with REDIS_MODE=cluster (a hash tag in the prefix would put every key in one slot).');
  }

  let url: URL | undefined;
  if (urlText) {
    try {
      url = new URL(urlText);
    } catch {
      // already reported by the URL check
    }
  }
  if (url && !/^rediss?:$/.test(url.protocol)) {
    problems.push('REDIS_URL: must be redis:// or rediss://.');
    url = undefined;
  }

  const usernameSetting = get<string | undefined>('REDIS_USERNAME');
  const passwordSetting = get<string | undefined>('REDIS_PASSWORD');
  const urlUser = url?.username ? decodeURIComponent(url.username) : undefined;
  const urlPassword = url?.password ? decodeURIComponent(url.password) : undefined;
  need(!(usernameSetting && urlUser), 'REDIS_USERNAME: REDIS_URL names a user too; keep one of them.');
  need(!(passwordSetting && urlPassword), 'REDIS_PASSWORD: REDIS_URL holds a password too; keep one of them.');

  const tlsSetting = get<boolean | undefined>('REDIS_TLS');
  const urlTls = url ? url.protocol === 'rediss:' : undefined;
  if (tlsSetting !== undefined && urlTls !== undefined && tlsSetting !== urlTls) {
    problems.push(`REDIS_TLS: ${tlsSetting ? 'true' : 'false'} but REDIS_URL is ${urlTls ? 'rediss' : 'redis'}://; make them agree.`);
  }
  const tls = tlsSetting ?? urlTls ?? false;
  const caFile = get<string | undefined>('REDIS_TLS_CA_FILE');
  let ca: string | undefined;
  if (caFile) {
    if (!tls) problems.push('REDIS_TLS_CA_FILE: needs TLS (REDIS_TLS=true or a rediss:// REDIS_URL).');
    try {
      ca = readFileSync(caFile, 'utf8');
      if (!ca.includes('-----BEGIN CERTIFICATE-----')) problems.push(`REDIS_TLS_CA_FILE: ${caFile} holds no PEM certificate.`);
    } catch (err) {
      problems.push(`REDIS_TLS_CA_FILE: cannot read ${caFile} (${(err as NodeJS.ErrnoException).code ?? 'error'}).`);
    }
  }

  const endpoints = (setting: string, list: readonly string[], defaultPort: number): RedisEndpoint[] =>
    list.flatMap((entry) => parseEndpoint(setting, entry, defaultPort, problems) ?? []);
  const urlEndpoint = url ? { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port ? Number(url.port) : 6379 } : undefined;

  let topology: RedisTopology | undefined;
  if (mode === 'standalone') {
    if (urlEndpoint && url) {
      const path = url.pathname.replace(/^\//, '');
      need(/^\d*$/.test(path), `REDIS_URL: "/${path}" is not a database number.`);
      topology = { mode, endpoint: urlEndpoint, database: Number(path || 0) };
    }
  } else if (mode === 'sentinel') {
    const sentinels = endpoints('REDIS_SENTINELS', sentinelList, 26379);
    if (sentinels.length) topology = { mode, sentinels, masterName: get<string>('REDIS_SENTINEL_NAME') ?? 'mymaster', sentinelPassword };
    else problems.push('REDIS_SENTINELS: required with REDIS_MODE=sentinel (comma list of host:port).');
  } else {
    const seeds = [...(urlEndpoint ? [urlEndpoint] : []), ...endpoints('REDIS_CLUSTER_NODES', clusterList, 6379)];
    if (url && url.pathname.replace(/^\//, '') && url.pathname !== '/0') problems.push('REDIS_URL: a cluster has database 0 only; drop the path.');
    if (seeds.length) topology = { mode, seeds };
    else problems.push('REDIS_CLUSTER_NODES: required with REDIS_MODE=cluster (comma list of host:port), or a seed node as REDIS_URL.');
  }
  if (!topology) return undefined;
  return {
    topology,
    username: usernameSetting ?? urlUser,
    password: passwordSetting ?? urlPassword,
    tls: tls ? { ca } : undefined,
  };
}
