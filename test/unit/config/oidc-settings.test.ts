import { loadSettings } from '../../../src/config/load';
import { problemsOf } from '../../helpers/settings';

const base = {
  NODE_ENV: 'development',
  IDENTITY_MODE: 'oidc',
  OIDC_ISSUER_URL: 'https://idp.example',
  OIDC_CLIENT_ID: 'miles',
  OIDC_REDIRECT_URL: 'https://partner.example/api/auth/callback',
};

describe('the OIDC_* settings', () => {
  it('reads the provider, the client and strict defaults', () => {
    const { identity } = loadSettings(base);
    expect(identity.mode).toBe('oidc');
    expect(identity.oidc).toEqual({
      issuerUrl: 'https://idp.example',
      clientId: 'miles',
      clientSecret: undefined,
      redirectUrl: 'https://partner.example/api/auth/callback',
      scopes: ['openid', 'email', 'profile'],
      userClaim: 'sub',
      postLogoutRedirectUrl: 'https://partner.example/',
      acceptIdTokens: false,
      idTokenAudiences: ['miles'],
      loginTtlSeconds: 300,
      allowInsecureHttp: false,
    });
  });

  it('needs the issuer, the client id and the callback URL', () => {
    expect(problemsOf({ NODE_ENV: 'development', IDENTITY_MODE: 'oidc' })).toEqual([
      'OIDC_ISSUER_URL: required when IDENTITY_MODE=oidc.',
      'OIDC_CLIENT_ID: required when IDENTITY_MODE=oidc.',
      'OIDC_REDIRECT_URL: required when IDENTITY_MODE=oidc (the absolute URL of /api/auth/callback).',
    ]);
  });

  it('refuses a plain-HTTP provider unless the named relaxation allows it, and the relaxation in production', () => {
    expect(problemsOf({ ...base, OIDC_ISSUER_URL: 'http://idp.example' })).toEqual([
      'OIDC_ISSUER_URL: must be https:// (OIDC_ALLOW_INSECURE_HTTP=true allows http:// outside production).',
    ]);
    expect(problemsOf({ ...base, OIDC_ISSUER_URL: 'http://idp.example', OIDC_ALLOW_INSECURE_HTTP: 'true' })).toEqual([]);
    expect(problemsOf({ ...base, NODE_ENV: 'production', OIDC_ALLOW_INSECURE_HTTP: 'true', SESSION_SECRET: 's'.repeat(32), REDIS_URL: 'redis://r:6379', APM_BASE_URL: 'https://api.example/', APM_PARTNER_ID: 'p', APM_PARTNER_SECRET: 'x' })).toContain(
      'OIDC_ALLOW_INSECURE_HTTP: refused when NODE_ENV=production.',
    );
  });

  it('refuses a scope list without openid and a callback URL at another path', () => {
    expect(problemsOf({ ...base, OIDC_SCOPES: 'email,profile', OIDC_REDIRECT_URL: 'https://partner.example/callback' })).toEqual([
      'OIDC_SCOPES: must hold openid.',
      'OIDC_REDIRECT_URL: its path must be /api/auth/callback.',
    ]);
  });

  it('names a misspelt OIDC setting', () => {
    expect(problemsOf({ ...base, OIDC_CLIENT_SECRT: 'x' })).toEqual(['OIDC_CLIENT_SECRT: unknown setting. Did you mean OIDC_CLIENT_SECRET?']);
  });
});
