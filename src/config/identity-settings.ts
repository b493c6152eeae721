import type { SettingsReader } from './environment';
import { readOidcSettings } from './oidc-settings';
import type { IdentityMode, Settings } from './settings';
import { overlyBroadTrust, type TrustProxy } from './trust-proxy';

/**
 * The `IDENTITY_*` settings: where the connecting user's identity comes from,
 * then the settings of that mode, each mode's checks in a function of its own.
 * Undefined when no mode can be chosen (production without `IDENTITY_MODE`);
 * a problem then says so.
 */
export function readIdentitySettings(r: SettingsReader, trustProxy: TrustProxy): Settings['identity'] | undefined {
  const modeSet = r.get('IDENTITY_MODE');
  if (r.production) {
    r.need(Boolean(modeSet), 'IDENTITY_MODE: required when NODE_ENV=production (jwt, header or oidc).');
    r.need(modeSet !== 'insecure-body', 'IDENTITY_MODE: insecure-body is refused when NODE_ENV=production (it trusts what the browser claims).');
  }
  const mode: IdentityMode | undefined = modeSet ?? (r.production ? undefined : 'insecure-body');
  if (mode === 'jwt') checkJwtMode(r);
  if (mode === 'header') checkHeaderMode(r, trustProxy);
  const oidc = mode === 'oidc' ? readOidcSettings(r) : undefined;
  if (!mode || (mode === 'oidc' && !oidc)) return undefined;
  return {
    mode,
    jwksUrl: r.get('IDENTITY_JWKS_URL'),
    jwtSecret: r.get('IDENTITY_JWT_SECRET'),
    jwtPublicKey: r.get('IDENTITY_JWT_PUBLIC_KEY'),
    jwtIssuer: r.get('IDENTITY_JWT_ISSUER'),
    jwtAudience: r.get('IDENTITY_JWT_AUDIENCE'),
    clockToleranceSeconds: r.get('IDENTITY_JWT_CLOCK_TOLERANCE_SECONDS'),
    headerUser: r.get('IDENTITY_HEADER_USER').toLowerCase(),
    headerEmail: r.get('IDENTITY_HEADER_EMAIL').toLowerCase(),
    oidc,
  };
}

function checkJwtMode(r: SettingsReader): void {
  const sources = [r.get('IDENTITY_JWKS_URL'), r.get('IDENTITY_JWT_SECRET'), r.get('IDENTITY_JWT_PUBLIC_KEY')].filter(Boolean);
  r.need(sources.length === 1, `IDENTITY_MODE=jwt: set exactly one of IDENTITY_JWKS_URL, IDENTITY_JWT_SECRET, IDENTITY_JWT_PUBLIC_KEY (found ${sources.length}).`);
  r.need(Boolean(r.get('IDENTITY_JWT_ISSUER')), 'IDENTITY_JWT_ISSUER: required when IDENTITY_MODE=jwt.');
  r.need(Boolean(r.get('IDENTITY_JWT_AUDIENCE')), 'IDENTITY_JWT_AUDIENCE: required when IDENTITY_MODE=jwt.');
  const hs = r.get('IDENTITY_JWT_SECRET');
  if (hs) r.need(hs.length >= 32, 'IDENTITY_JWT_SECRET: shorter than 32 characters.');
}

function checkHeaderMode(r: SettingsReader, trustProxy: TrustProxy): void {
  // The identity headers are believed from whatever TRUST_PROXY trusts: anything but the
  // ingress' own addresses would let a direct caller connect as anyone.
  if (trustProxy === false) {
    r.problems.push('IDENTITY_MODE=header: needs TRUST_PROXY naming the ingress, or anyone could send the identity headers.');
    return;
  }
  const reasons = overlyBroadTrust(trustProxy);
  if (reasons.length > 0) {
    r.problems.push(`TRUST_PROXY: with IDENTITY_MODE=header it must list the ingress' addresses or CIDRs (e.g. 10.244.0.0/16), and ${reasons.join('; ')}: any direct caller could send the identity headers.`);
  }
}
