import type { SettingsReader } from './environment';
import type { OidcSettings } from './settings';

/**
 * The `OIDC_*` settings of `IDENTITY_MODE=oidc`: the provider, this client's
 * credentials and callback, what the ID token gives, and the bad combinations
 * refused at start-up (a plain-HTTP provider without the named relaxation, a
 * scope list without `openid`).
 */
export function readOidcSettings(r: SettingsReader): OidcSettings | undefined {
  const issuerUrl = r.get('OIDC_ISSUER_URL');
  const clientId = r.get('OIDC_CLIENT_ID');
  const redirectUrl = r.get('OIDC_REDIRECT_URL');
  const allowInsecureHttp = r.get('OIDC_ALLOW_INSECURE_HTTP');
  const scopes = r.get('OIDC_SCOPES');
  r.need(Boolean(issuerUrl) || r.refused('OIDC_ISSUER_URL'), 'OIDC_ISSUER_URL: required when IDENTITY_MODE=oidc.');
  r.need(Boolean(clientId), 'OIDC_CLIENT_ID: required when IDENTITY_MODE=oidc.');
  r.need(Boolean(redirectUrl) || r.refused('OIDC_REDIRECT_URL'), 'OIDC_REDIRECT_URL: required when IDENTITY_MODE=oidc (the absolute URL of /api/auth/callback).');
  r.need(scopes.includes('openid'), 'OIDC_SCOPES: must hold openid.');
  if (r.production) r.need(!allowInsecureHttp, 'OIDC_ALLOW_INSECURE_HTTP: refused when NODE_ENV=production.');

  const postLogout = r.get('OIDC_POST_LOGOUT_REDIRECT_URL');
  for (const [name, value] of [
    ['OIDC_ISSUER_URL', issuerUrl],
    ['OIDC_REDIRECT_URL', redirectUrl],
    ['OIDC_POST_LOGOUT_REDIRECT_URL', postLogout],
  ] as const) {
    if (value && !allowInsecureHttp) r.need(new URL(value).protocol === 'https:', `${name}: must be https:// (OIDC_ALLOW_INSECURE_HTTP=true allows http:// outside production).`);
  }
  if (redirectUrl) {
    r.need(new URL(redirectUrl).pathname === '/api/auth/callback', 'OIDC_REDIRECT_URL: its path must be /api/auth/callback.');
  }
  if (!issuerUrl || !clientId || !redirectUrl) return undefined;
  const clientSecret = r.get('OIDC_CLIENT_SECRET');
  const audiences = r.get('OIDC_ID_TOKEN_AUDIENCES');
  return {
    issuerUrl,
    clientId,
    clientSecret,
    redirectUrl,
    scopes,
    userClaim: r.get('OIDC_USER_CLAIM'),
    postLogoutRedirectUrl: postLogout ?? `${new URL(redirectUrl).origin}/`,
    acceptIdTokens: r.get('OIDC_ACCEPT_ID_TOKENS'),
    idTokenAudiences: audiences.length > 0 ? audiences : [clientId],
    loginTtlSeconds: r.get('OIDC_LOGIN_TTL_SECONDS'),
    allowInsecureHttp,
  };
}
