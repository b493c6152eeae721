import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../../../src/config/load';
import { problemsOf } from '../../helpers/settings';

/** The REDIS_* settings: REDIS_MODE and each mode's own, TLS, credentials, and their refusals. */
const LIVE = {
  NODE_ENV: 'production',
  APM_BASE_URL: 'https://api-sandbox.appsmiles.eu/2.0/',
  APM_PARTNER_ID: 'partner',
  APM_PARTNER_SECRET: 'secret-secret-secret',
  SESSION_SECRET: 'a'.repeat(32),
  IDENTITY_MODE: 'header',
  TRUST_PROXY: '10.244.0.0/16',
};

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

describe('Redis settings', () => {
  it('no Redis at all: the in-process stores, standalone mode', () => {
    const s = loadSettings({});
    expect(s.redis.mode).toBe('standalone');
    expect(s.redis.connection).toBeUndefined();
  });

  it('standalone: REDIS_URL gives the server, its database and its credentials', () => {
    const s = loadSettings({ REDIS_URL: 'redis://u%40x:p%3Ass@redis.internal:6380/3' });
    expect(s.redis.connection).toEqual({
      topology: { mode: 'standalone', endpoint: { host: 'redis.internal', port: 6380 }, database: 3 },
      username: 'u@x',
      password: 'p:ss',
      tls: undefined,
    });
    expect(loadSettings({ REDIS_URL: 'redis://[::1]' }).redis.connection?.topology).toEqual({ mode: 'standalone', endpoint: { host: '::1', port: 6379 }, database: 0 });
  });

  it('TLS: rediss://, or REDIS_TLS; both must agree; a CA file is read once and needs TLS', () => {
    expect(loadSettings({ REDIS_URL: 'rediss://redis:6380' }).redis.connection?.tls).toEqual({ ca: undefined });
    expect(problemsOf({ REDIS_URL: 'redis://redis:6379', REDIS_TLS: 'true' })).toEqual(['REDIS_TLS: true but REDIS_URL is redis://; make them agree.']);
    expect(problemsOf({ REDIS_URL: 'rediss://redis:6380', REDIS_TLS: 'false' })).toEqual(['REDIS_TLS: false but REDIS_URL is rediss://; make them agree.']);
    const dir = mkdtempSync(join(tmpdir(), 'redis-ca-'));
    writeFileSync(join(dir, 'ca.pem'), PEM);
    writeFileSync(join(dir, 'not.pem'), 'hello');
    expect(loadSettings({ REDIS_URL: 'rediss://redis:6380', REDIS_TLS_CA_FILE: join(dir, 'ca.pem') }).redis.connection?.tls).toEqual({ ca: PEM });
    expect(problemsOf({ REDIS_URL: 'redis://redis:6379', REDIS_TLS_CA_FILE: join(dir, 'ca.pem') })).toEqual(['REDIS_TLS_CA_FILE: needs TLS (REDIS_TLS=true or a rediss:// REDIS_URL).']);
    expect(problemsOf({ REDIS_URL: 'rediss://redis:6380', REDIS_TLS_CA_FILE: join(dir, 'missing.pem') })).toEqual([`REDIS_TLS_CA_FILE: cannot read ${join(dir, 'missing.pem')} (ENOENT).`]);
    expect(problemsOf({ REDIS_URL: 'rediss://redis:6380', REDIS_TLS_CA_FILE: join(dir, 'not.pem') })).toEqual([`REDIS_TLS_CA_FILE: ${join(dir, 'not.pem')} holds no PEM certificate.`]);
  });

  it('credentials: REDIS_USERNAME and REDIS_PASSWORD (or _FILE), never also in REDIS_URL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'redis-pass-'));
    writeFileSync(join(dir, 'password'), 'from-a-file\n');
    const s = loadSettings({ REDIS_URL: 'redis://redis', REDIS_USERNAME: 'bff', REDIS_PASSWORD_FILE: join(dir, 'password') });
    expect([s.redis.connection?.username, s.redis.connection?.password]).toEqual(['bff', 'from-a-file']);
    expect(problemsOf({ REDIS_URL: 'redis://:inurl@redis', REDIS_PASSWORD: 'apart' })).toEqual(['REDIS_PASSWORD: REDIS_URL holds a password too; keep one of them.']);
    expect(problemsOf({ REDIS_URL: 'redis://someone@redis', REDIS_USERNAME: 'bff' })).toEqual(['REDIS_USERNAME: REDIS_URL names a user too; keep one of them.']);
  });

  it('sentinel: the sentinels (default port 26379), the master name, their own password; no REDIS_URL', () => {
    const s = loadSettings({
      REDIS_MODE: 'sentinel',
      REDIS_SENTINELS: 's1:26380, s2 ,[fd00::1]:26381',
      REDIS_SENTINEL_NAME: 'loyalty',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      REDIS_PASSWORD: 'data-secret',
      REDIS_TLS: 'true',
    });
    expect(s.redis.mode).toBe('sentinel');
    expect(s.redis.connection).toEqual({
      topology: {
        mode: 'sentinel',
        sentinels: [
          { host: 's1', port: 26380 },
          { host: 's2', port: 26379 },
          { host: 'fd00::1', port: 26381 },
        ],
        masterName: 'loyalty',
        sentinelPassword: 'sentinel-secret',
      },
      username: undefined,
      password: 'data-secret',
      tls: { ca: undefined },
    });
    expect(loadSettings({ REDIS_MODE: 'sentinel', REDIS_SENTINELS: 's1' }).redis.connection?.topology).toMatchObject({ masterName: 'mymaster' });
    expect(problemsOf({ REDIS_MODE: 'sentinel' })).toEqual(['REDIS_SENTINELS: required with REDIS_MODE=sentinel (comma list of host:port).']);
    expect(problemsOf({ REDIS_MODE: 'sentinel', REDIS_SENTINELS: 's1', REDIS_URL: 'redis://redis' })).toEqual([
      'REDIS_URL: not used with REDIS_MODE=sentinel (the sentinels name the master); use REDIS_SENTINELS, REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS.',
    ]);
    expect(problemsOf({ REDIS_MODE: 'sentinel', REDIS_SENTINELS: 's1:port' })).toContain('REDIS_SENTINELS: "s1:port" is not host:port.');
  });

  it('cluster: seeds from REDIS_CLUSTER_NODES and REDIS_URL; database 0 only; no hash tag in the prefix', () => {
    const s = loadSettings({ REDIS_MODE: 'cluster', REDIS_URL: 'rediss://:pw@config.cache.example.com:6380', REDIS_CLUSTER_NODES: 'n1:7000,n2' });
    expect(s.redis.connection).toEqual({
      topology: {
        mode: 'cluster',
        seeds: [
          { host: 'config.cache.example.com', port: 6380 },
          { host: 'n1', port: 7000 },
          { host: 'n2', port: 6379 },
        ],
      },
      username: undefined,
      password: 'pw',
      tls: { ca: undefined },
    });
    expect(problemsOf({ REDIS_MODE: 'cluster' })).toEqual(['REDIS_CLUSTER_NODES: required with REDIS_MODE=cluster (comma list of host:port), or a seed node as REDIS_URL.']);
    expect(problemsOf({ REDIS_MODE: 'cluster', REDIS_URL: 'redis://n1:7000/2' })).toEqual(['REDIS_URL: a cluster has database 0 only; drop the path.']);
    expect(problemsOf({ REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: 'n1', REDIS_KEY_PREFIX: '{miles}:' })).toEqual([
      'REDIS_KEY_PREFIX: no { or } with REDIS_MODE=cluster (a hash tag in the prefix would put every key in one slot).',
    ]);
  });

  it("refuses another mode's settings, the usual sign of a forgotten REDIS_MODE", () => {
    expect(problemsOf({ REDIS_URL: 'redis://redis', REDIS_SENTINELS: 's1' })).toEqual(['REDIS_SENTINELS: only used with REDIS_MODE=sentinel (REDIS_MODE is standalone).']);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'n1' })).toEqual(['REDIS_CLUSTER_NODES: only used with REDIS_MODE=cluster (REDIS_MODE is standalone).']);
    expect(problemsOf({ REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: 'n1', REDIS_SENTINEL_PASSWORD: 'x' })).toEqual([
      'REDIS_SENTINEL_PASSWORD: only used with REDIS_MODE=sentinel (REDIS_MODE is cluster).',
    ]);
    expect(problemsOf({ REDIS_MODE: 'replicated' })).toEqual(['REDIS_MODE: "replicated" is not one of standalone, sentinel, cluster.']);
  });

  it('production needs a Redis, named after the mode', () => {
    expect(problemsOf({ ...LIVE })).toEqual(['REDIS_URL: required when NODE_ENV=production (in-process stores do not survive restarts or span replicas).']);
    expect(problemsOf({ ...LIVE, REDIS_MODE: 'sentinel', REDIS_SENTINELS: 's1,s2,s3', REDIS_SENTINEL_NAME: 'm' })).toEqual([]);
    expect(problemsOf({ ...LIVE, REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: 'n1,n2' })).toEqual([]);
    // One line, not two, when the mode's own setting is missing.
    expect(problemsOf({ ...LIVE, REDIS_MODE: 'cluster' })).toEqual(['REDIS_CLUSTER_NODES: required with REDIS_MODE=cluster (comma list of host:port), or a seed node as REDIS_URL.']);
  });
});
