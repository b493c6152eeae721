import { readFileSync } from 'node:fs';
import type { SettingsReader } from './environment';
import type { RedisConnectionSettings, RedisEndpoint, RedisMode, RedisTopology, Settings } from './settings';

/**
 * The `REDIS_*` settings: where Redis is (per `REDIS_MODE`), with what
 * credentials and TLS, and the keys' prefix. No Redis (`connection`
 * undefined) means the in-process stores, refused in production.
 */
export function readRedisSettings(r: SettingsReader): Settings['redis'] {
  const mode = r.get('REDIS_MODE');
  const connection = readRedisConnection(r);
  // A topology that names no server is already a problem; "required" would say it twice.
  r.need(!r.production || Boolean(connection) || r.problems.some((p) => /^REDIS_\w+: required/.test(p)), redisRequiredMessage(mode));
  return {
    url: r.get('REDIS_URL'),
    mode,
    connection,
    keyPrefix: r.get('REDIS_KEY_PREFIX'),
    commandTimeoutMs: r.get('REDIS_COMMAND_TIMEOUT_MS'),
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
function readRedisConnection(r: SettingsReader): RedisConnectionSettings | undefined {
  const problems = r.problems;
  const need = r.need;
  const mode = r.get('REDIS_MODE');
  const urlText = r.get('REDIS_URL');
  const sentinelList = r.get('REDIS_SENTINELS') ?? [];
  const clusterList = r.get('REDIS_CLUSTER_NODES') ?? [];
  const sentinelPassword = r.get('REDIS_SENTINEL_PASSWORD');

  need(mode === 'sentinel' || sentinelList.length === 0, `REDIS_SENTINELS: only used with REDIS_MODE=sentinel (REDIS_MODE is ${mode}).`);
  need(mode === 'sentinel' || !sentinelPassword, `REDIS_SENTINEL_PASSWORD: only used with REDIS_MODE=sentinel (REDIS_MODE is ${mode}).`);
  need(mode === 'cluster' || clusterList.length === 0, `REDIS_CLUSTER_NODES: only used with REDIS_MODE=cluster (REDIS_MODE is ${mode}).`);
  need(mode !== 'sentinel' || !urlText, 'REDIS_URL: not used with REDIS_MODE=sentinel (the sentinels name the master); use REDIS_SENTINELS, REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS.');
  if (mode === 'cluster') {
    const prefix = r.get('REDIS_KEY_PREFIX');
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

  const usernameSetting = r.get('REDIS_USERNAME');
  const passwordSetting = r.get('REDIS_PASSWORD');
  const urlUser = url?.username ? decodeURIComponent(url.username) : undefined;
  const urlPassword = url?.password ? decodeURIComponent(url.password) : undefined;
  need(!(usernameSetting && urlUser), 'REDIS_USERNAME: REDIS_URL names a user too; keep one of them.');
  need(!(passwordSetting && urlPassword), 'REDIS_PASSWORD: REDIS_URL holds a password too; keep one of them.');

  const tlsSetting = r.get('REDIS_TLS');
  const urlTls = url ? url.protocol === 'rediss:' : undefined;
  if (tlsSetting !== undefined && urlTls !== undefined && tlsSetting !== urlTls) {
    problems.push(`REDIS_TLS: ${tlsSetting ? 'true' : 'false'} but REDIS_URL is ${urlTls ? 'rediss' : 'redis'}://; make them agree.`);
  }
  const tls = tlsSetting ?? urlTls ?? false;
  const caFile = r.get('REDIS_TLS_CA_FILE');
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
    if (sentinels.length) topology = { mode, sentinels, masterName: r.get('REDIS_SENTINEL_NAME'), sentinelPassword };
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
