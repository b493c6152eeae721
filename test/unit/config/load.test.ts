import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../../../src/config/load';
import { problemsOf } from '../../helpers/settings';
import { settingsTable } from '../../../src/config/settings-table';

const LIVE = {
  NODE_ENV: 'production',
  APM_BASE_URL: 'https://api-sandbox.appsmiles.eu/2.0/',
  APM_PARTNER_ID: 'partner',
  APM_PARTNER_SECRET: 'secret-secret-secret',
  REDIS_URL: 'redis://redis:6379',
  SESSION_SECRET: 'a'.repeat(32),
  IDENTITY_MODE: 'header',
  TRUST_PROXY: '10.244.0.0/16',
};

describe('settings', () => {
  it('runs on the embedded defaults with no settings at all', () => {
    const s = loadSettings({});
    expect(s.port).toBe(3000);
    expect(s.internalPort).toBe(9091);
    expect(s.upstream.kind).toBe('embedded-sandbox');
    expect(s.redis.url).toBeUndefined();
    expect(s.identity.mode).toBe('insecure-body');
    expect(s.session.cookieName).toBe('__Host-miles.sid');
    expect(s.session.idleTtlSeconds).toBe(1800);
    expect(s.session.absoluteTtlSeconds).toBe(86400);
    expect(s.cache).toEqual({ programTtlSeconds: 300, adsTtlSeconds: 60, adsScope: 'global', staleSeconds: 3600, localMs: 1000 });
    expect(s.rateLimit).toEqual({ enabled: true, windowSeconds: 60, ipMax: 600, connectMax: 30, mutationMax: 120 });
    expect(s.signing).toEqual({ jsonEncoding: 'php', signedHeadersFormat: 'object', emptyBody: '{}', signatureHeader: 'Authorization' });
    expect(s.demoPage).toBe(true);
  });

  it('accepts a complete production configuration', () => {
    const s = loadSettings(LIVE);
    expect(s.production).toBe(true);
    expect(s.upstream).toEqual({ kind: 'remote', baseUrl: LIVE.APM_BASE_URL, partnerId: 'partner', partnerSecret: 'secret-secret-secret' });
    expect(s.demoPage).toBe(false);
  });

  it.each([
    ['APM_BASE_URL', { APM_BASE_URL: undefined, APM_PARTNER_ID: undefined, APM_PARTNER_SECRET: undefined }],
    ['REDIS_URL', { REDIS_URL: undefined }],
    ['IDENTITY_MODE', { IDENTITY_MODE: 'insecure-body' }],
    ['IDENTITY_MODE', { IDENTITY_MODE: undefined }],
    ['APM_PARTNER_ID', { APM_PARTNER_ID: undefined }],
    ['APM_PARTNER_SECRET', { APM_PARTNER_SECRET: undefined }],
    ['SESSION_SECRET', { SESSION_SECRET: 'short' }],
    ['SESSION_SECRET', { SESSION_SECRET: undefined }],
    ['COOKIE_SECURE', { COOKIE_SECURE: 'false' }],
  ])('refuses production start-up naming %s', (name, change) => {
    const problems = problemsOf({ ...LIVE, ...change });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
  });

  it('reports every problem at once, one line each', () => {
    const problems = problemsOf({ PORT: 'eighty', RATE_LIMIT_IP_MAX: '0', COOKIE_SAMESITE: 'sometimes', CACHE_SCOPE_ADS: 'planet' });
    expect(problems).toHaveLength(4);
    for (const p of problems) expect(p).not.toContain('\n');
    expect(problems.map((p) => p.split(':')[0])).toEqual(['PORT', 'COOKIE_SAMESITE', 'CACHE_SCOPE_ADS', 'RATE_LIMIT_IP_MAX']);
  });

  it('suggests the setting a typo meant', () => {
    const problems = problemsOf({ SESSION_TTL_SECOND: '60' });
    expect(problems[0]).toMatch(/^SESSION_TTL_SECOND: unknown setting\. Did you mean SESSION_TTL_SECONDS\?/);
  });

  it('warns about, and starts with, a name that only shares our prefix (a platform\'s REDIS_TLS_URL, a service link)', () => {
    const env = { ...LIVE, REDIS_TLS_URL: 'rediss://platform.example.com:6380', REDIS_PORT: 'tcp://10.0.0.7:6379', SESSION_AFFINITY: 'ClientIP' };
    expect(problemsOf(env)).toEqual([]);
    const s = loadSettings(env);
    expect(s.warnings).toEqual([
      'REDIS_TLS_URL: not a setting of this service (it only shares a prefix with them); ignored.',
      'REDIS_PORT: not a setting of this service (it only shares a prefix with them); ignored.',
      'SESSION_AFFINITY: not a setting of this service (it only shares a prefix with them); ignored.',
    ]);
    expect(loadSettings(LIVE).warnings).toEqual([]);
  });

  it.each([
    ['REDIS_URLL', 'REDIS_URL'],
    ['REDIS_TSL', 'REDIS_TLS'],
    ['COOKIE_SAMESIT', 'COOKIE_SAMESITE'],
    ['APM_PARTNER_SECRT_FILE', 'APM_PARTNER_SECRET'],
  ])('still refuses %s, a misspelling of ours, naming %s', (typo, meant) => {
    const problems = problemsOf({ ...LIVE, [typo]: 'x' });
    expect(problems).toEqual([`${typo}: unknown setting. Did you mean ${meant}?`]);
  });

  it('reads secrets from _FILE variants, and refuses both at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'settings-'));
    const file = join(dir, 'secret');
    writeFileSync(file, 'from-a-file-secret\n');
    const s = loadSettings({ ...LIVE, APM_PARTNER_SECRET: undefined, APM_PARTNER_SECRET_FILE: file });
    expect(s.upstream.kind === 'remote' && s.upstream.partnerSecret).toBe('from-a-file-secret');
    expect(problemsOf({ ...LIVE, APM_PARTNER_SECRET_FILE: file })[0]).toMatch(/^APM_PARTNER_SECRET: set either/);
    expect(problemsOf({ ...LIVE, APM_PARTNER_SECRET: undefined, APM_PARTNER_SECRET_FILE: join(dir, 'missing') })[0]).toMatch(/^APM_PARTNER_SECRET_FILE: cannot read/);
  });

  it('never echoes a secret in a problem', () => {
    const problems = problemsOf({ REDIS_URL: 'not a url with password hunter2' });
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('parses lists, rotation keys and jwt identity requirements', () => {
    const key = 'ab'.repeat(32);
    const s = loadSettings({ SESSION_SECRET: `${'n'.repeat(32)}, ${'o'.repeat(32)}`, TOKEN_ENCRYPTION_KEY: `${key},${Buffer.alloc(32, 7).toString('base64')}`, INTERNAL_API_KEYS: `crm:${'k'.repeat(24)},${'z'.repeat(30)}`, ALLOWED_ORIGINS: 'https://a.example, https://b.example:8443' });
    expect(s.session.secrets).toHaveLength(2);
    expect(s.session.tokenEncryptionKeys).toHaveLength(2);
    expect(s.internalApiKeys).toEqual([{ id: 'crm', key: 'k'.repeat(24) }, { id: undefined, key: 'z'.repeat(30) }]);
    expect(s.allowedOrigins).toEqual(['https://a.example', 'https://b.example:8443']);
    expect(problemsOf({ TOKEN_ENCRYPTION_KEY: 'short' })[0]).toMatch(/^TOKEN_ENCRYPTION_KEY:/);
    expect(problemsOf({ ALLOWED_ORIGINS: 'https://a.example/path' })[0]).toMatch(/^ALLOWED_ORIGINS:/);
    expect(problemsOf({ IDENTITY_MODE: 'jwt' }).map((p) => p.split(':')[0])).toEqual(['IDENTITY_MODE=jwt', 'IDENTITY_JWT_ISSUER', 'IDENTITY_JWT_AUDIENCE']);
    expect(problemsOf({ IDENTITY_MODE: 'header' })[0]).toMatch(/^IDENTITY_MODE=header: needs TRUST_PROXY/);
  });

  describe('TRUST_PROXY with IDENTITY_MODE=header (identity headers are believed from the peers it trusts)', () => {
    it.each([
      ['true', /`true` trusts every peer/],
      ['1', /hop count 1/],
      ['2', /hop count 2/],
      ['0.0.0.0/1,128.0.0.0/1', /cover every IPv4 address/],
      ['::/1,8000::/1', /cover every IPv6 address/],
      ['::ffff:0:0/96', /wider than \/8 \(IPv4\)/],
      ['10.0.0.0/8,0.0.0.0/4', /"0.0.0.0\/4" is wider than \/8/],
      ['2000::/3', /wider than \/7 \(IPv6\)/],
    ])('refuses %s at start-up, in production and out of it', (value, reason) => {
      for (const env of [LIVE, { IDENTITY_MODE: 'header' }]) {
        const problems = problemsOf({ ...env, TRUST_PROXY: value });
        expect(problems).toEqual([expect.stringMatching(/^TRUST_PROXY: with IDENTITY_MODE=header it must list the ingress' addresses or CIDRs/)]);
        expect(problems[0]).toMatch(reason);
      }
    });

    it.each(['10.244.0.0/16', '10.0.0.0/8', '10.1.2.3, 10.1.2.4', 'loopback', 'uniquelocal', '192.168.0.0/255.255.0.0', 'fd00:10:244::/56', '130.211.0.0/22,35.191.0.0/16'])(
      'accepts the ingress named by address or CIDR: %s',
      (value) => {
        expect(problemsOf({ ...LIVE, TRUST_PROXY: value })).toEqual([]);
      },
    );

    it('leaves the other identity modes their hop count or true (client IP and scheme only)', () => {
      expect(loadSettings({ ...LIVE, IDENTITY_MODE: 'jwt', IDENTITY_JWT_SECRET: 'j'.repeat(32), IDENTITY_JWT_ISSUER: 'i', IDENTITY_JWT_AUDIENCE: 'a', TRUST_PROXY: '1' }).trustProxy).toBe(1);
      expect(loadSettings({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    });

    it('refuses, in every mode, an entry Express could not compile, naming the setting', () => {
      expect(problemsOf({ TRUST_PROXY: '10.0.0.0/33' })).toEqual(['TRUST_PROXY: "10.0.0.0/33" has an invalid range.']);
      expect(problemsOf({ TRUST_PROXY: 'ingress.local' })).toEqual(['TRUST_PROXY: "ingress.local" is not an address, a CIDR or one of loopback, linklocal, uniquelocal.']);
      expect(problemsOf({ TRUST_PROXY: '0.0.0.0/0' })).toEqual(['TRUST_PROXY: "0.0.0.0/0" has an invalid range.']);
    });
  });

  it('documents every setting with a group and a description', () => {
    const names = new Set<string>();
    for (const def of settingsTable) {
      expect(def.description.length).toBeGreaterThan(10);
      expect(names.has(def.name)).toBe(false);
      names.add(def.name);
    }
  });
});
