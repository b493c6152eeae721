import * as oidc from 'openid-client';
import type { OidcSettings } from '../config/settings';
import type { CheckResult } from './report';

/**
 * `IDENTITY_MODE=oidc`: the provider's discovery document at `OIDC_ISSUER_URL` (as the service
 * reads it, with the same client), its JWKS (keys to check ID and logout tokens with), and what
 * the provider offers for logging out (RP-initiated and back-channel logout), which only warns.
 */
export async function checkIdentityProvider(settings: OidcSettings, timeoutMs: number): Promise<CheckResult> {
  const fail = (summary: string, fix: string): CheckResult => ({ name: 'identity-provider', status: 'fail', summary, fix });
  let metadata: oidc.ServerMetadata;
  try {
    const config = await oidc.discovery(
      new URL(settings.issuerUrl),
      settings.clientId,
      undefined,
      settings.clientSecret ? oidc.ClientSecretBasic(settings.clientSecret) : oidc.None(),
      { execute: settings.allowInsecureHttp ? [oidc.allowInsecureRequests] : [], timeout: Math.ceil(timeoutMs / 1000) },
    );
    metadata = config.serverMetadata();
  } catch (err) {
    return fail(`discovery at ${settings.issuerUrl} failed: ${(err as Error).message}`, 'check OIDC_ISSUER_URL (the issuer, without /.well-known/openid-configuration) and that this machine reaches the provider');
  }
  if (!metadata.jwks_uri) return fail('the discovery document names no jwks_uri', 'the provider must publish its signing keys (jwks_uri)');
  let keys: number;
  try {
    const res = await fetch(metadata.jwks_uri, { signal: AbortSignal.timeout(timeoutMs) });
    const jwks = (await res.json()) as { keys?: unknown[] };
    keys = Array.isArray(jwks.keys) ? jwks.keys.length : 0;
    if (!res.ok || keys === 0) return fail(`the JWKS at ${metadata.jwks_uri} holds no keys (HTTP ${res.status})`, 'the provider must publish the keys it signs ID tokens with');
  } catch (err) {
    return fail(`the JWKS at ${metadata.jwks_uri} could not be read: ${(err as Error).message}`, 'check that this machine reaches the provider\'s jwks_uri');
  }
  const missing = [
    ...(metadata.end_session_endpoint ? [] : ['no end_session_endpoint (signing out will not end the provider session)']),
    ...(metadata.backchannel_logout_supported ? [] : ['no back-channel logout (a sign-out at the provider will not end sessions here)']),
  ];
  const data = { issuer: metadata.issuer, keys, endSession: Boolean(metadata.end_session_endpoint), backchannelLogout: Boolean(metadata.backchannel_logout_supported) };
  if (missing.length > 0) {
    return { name: 'identity-provider', status: 'warn', summary: `${metadata.issuer} discovered, ${keys} signing key(s); ${missing.join('; ')}`, fix: 'enable RP-initiated and back-channel logout at the provider, or accept that sessions here outlive a provider sign-out', data };
  }
  return { name: 'identity-provider', status: 'pass', summary: `${metadata.issuer} discovered, ${keys} signing key(s), RP-initiated and back-channel logout offered`, data };
}
