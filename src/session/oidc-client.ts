import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { OidcSettings } from '../config/settings';
import { IdentityProviderUnavailable, SignInRefused } from '../errors';
import type { Logger } from '../observability/logger';

/** Where the provider stands: discovered (usable), still being discovered, or given up on for now (retrying). */
export type IdentityProviderStatus = 'ok' | 'discovering' | 'unavailable';

/** What a sign-in started with, kept server-side until its callback. */
export interface LoginChecks {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

/** The checked ID token of a finished sign-in. */
export interface SignedIn {
  readonly claims: Readonly<JWTPayload>;
  /** The raw ID token, kept as the `id_token_hint` of the provider logout. */
  readonly idToken: string;
}

/** What a valid back-channel logout token names: the provider session, the user, or both. */
export interface LogoutSubject {
  readonly sid?: string;
  readonly sub?: string;
  /** The token's id and expiry, for the replay check. */
  readonly jti: string;
  readonly exp: number | undefined;
}

export interface OidcClient {
  status(): IdentityProviderStatus;
  /** The provider's metadata as discovered (issuer, endpoints), or undefined before discovery. */
  metadata(): Readonly<oidc.ServerMetadata> | undefined;
  /** The provider's authorization URL for a new sign-in (code + PKCE S256, state, nonce), and its checks. */
  startLogin(): Promise<{ readonly url: URL; readonly checks: LoginChecks }>;
  /** Exchanges the code of `callbackUrl` and checks the ID token (issuer, audience, nonce, expiry, signature). */
  finishLogin(callbackUrl: URL, checks: LoginChecks): Promise<SignedIn>;
  /** The provider's RP-initiated logout URL, or undefined when it offers none. */
  endSessionUrl(idTokenHint: string | undefined): URL | undefined;
  /** Checks an OpenID Connect Back-Channel Logout token; throws `SignInRefused('invalid_logout_token')`. */
  verifyLogoutToken(token: string): Promise<LogoutSubject>;
  /** Checks an ID token a native app obtained from the same provider (the `jwt`-mode connect). */
  verifyIdToken(token: string): Promise<JWTPayload>;
  close(): void;
}

export interface OidcClientOptions {
  readonly settings: OidcSettings;
  readonly logger: Logger;
  readonly clockToleranceSeconds: number;
  /** First retry delay of the discovery; doubled up to `maxRetryMs`. */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * The service as an OpenID Connect relying party, on `openid-client`: the provider is discovered
 * at start and, while it cannot be reached, again with backoff (never failing the process); the
 * sign-in, the provider logout and the back-channel logout tokens all use what was discovered.
 */
export function createOidcClient(options: OidcClientOptions): OidcClient {
  const { settings, logger } = options;
  const retryMs = options.retryMs ?? 1000;
  const maxRetryMs = options.maxRetryMs ?? 60_000;
  let config: oidc.Configuration | undefined;
  let jwks: JWTVerifyGetKey | undefined;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  async function discover(): Promise<void> {
    try {
      const found = await oidc.discovery(
        new URL(settings.issuerUrl),
        settings.clientId,
        { redirect_uris: [settings.redirectUrl], response_types: ['code'], [oidc.clockTolerance]: options.clockToleranceSeconds },
        settings.clientSecret ? oidc.ClientSecretBasic(settings.clientSecret) : oidc.None(),
        {
          // The ID token's signature is checked against the provider's keys even though it came over TLS.
          execute: [...(settings.allowInsecureHttp ? [oidc.allowInsecureRequests] : []), oidc.enableNonRepudiationChecks],
          timeout: 10,
        },
      );
      const jwksUri = found.serverMetadata().jwks_uri;
      if (!jwksUri) throw new Error('the discovery document names no jwks_uri');
      if (closed) return;
      config = found;
      jwks = createRemoteJWKSet(new URL(jwksUri), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
      logger.info({ issuer: found.serverMetadata().issuer }, 'OpenID Provider discovered');
    } catch (err) {
      failures += 1;
      const delay = Math.min(maxRetryMs, retryMs * 2 ** Math.min(failures - 1, 16));
      logger.warn({ issuer: settings.issuerUrl, err: (err as Error).message, retryInMs: delay }, 'OpenID Provider discovery failed; retrying');
      if (!closed) {
        timer = setTimeout(() => void discover(), delay);
        timer.unref();
      }
    }
  }
  void discover();

  function ready(): { config: oidc.Configuration; jwks: JWTVerifyGetKey } {
    if (!config || !jwks) throw new IdentityProviderUnavailable('The identity provider has not been discovered yet; retry shortly.');
    return { config, jwks };
  }

  return {
    status: () => (config ? 'ok' : failures === 0 ? 'discovering' : 'unavailable'),
    metadata: () => config?.serverMetadata(),
    async startLogin() {
      const { config: c } = ready();
      const checks: LoginChecks = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() };
      const url = oidc.buildAuthorizationUrl(c, {
        redirect_uri: settings.redirectUrl,
        response_type: 'code',
        scope: settings.scopes.join(' '),
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
        code_challenge_method: 'S256',
      });
      return { url, checks };
    },
    async finishLogin(callbackUrl, checks) {
      const { config: c } = ready();
      try {
        const tokens = await oidc.authorizationCodeGrant(c, callbackUrl, {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          idTokenExpected: true,
        });
        const claims = tokens.claims();
        if (!claims || !tokens.id_token) throw new Error('no ID token');
        return { claims, idToken: tokens.id_token };
      } catch (cause) {
        if (cause instanceof oidc.AuthorizationResponseError) {
          throw new SignInRefused(plainWord(cause.error) ?? 'invalid_response', 'The provider refused the sign-in.', { cause });
        }
        throw new SignInRefused('invalid_response', 'The code exchange or the ID token failed its checks.', { cause });
      }
    },
    endSessionUrl(idTokenHint) {
      if (!config?.serverMetadata().end_session_endpoint) return undefined;
      return oidc.buildEndSessionUrl(config, {
        post_logout_redirect_uri: settings.postLogoutRedirectUrl,
        client_id: settings.clientId,
        ...(idTokenHint ? { id_token_hint: idTokenHint } : {}),
      });
    },
    async verifyLogoutToken(token) {
      const { config: c, jwks: keys } = ready();
      try {
        const { payload } = await jwtVerify(token, keys, {
          algorithms: ASYMMETRIC,
          issuer: c.serverMetadata().issuer,
          audience: settings.clientId,
          clockTolerance: options.clockToleranceSeconds,
          requiredClaims: ['iat', 'jti', 'events'],
        });
        const events = payload.events as Record<string, unknown> | undefined;
        const event = events && typeof events === 'object' ? events[BACKCHANNEL_EVENT] : undefined;
        if (!event || typeof event !== 'object') throw new Error('no back-channel logout event');
        if (payload.nonce !== undefined) throw new Error('a logout token carries no nonce');
        const sid = typeof payload.sid === 'string' && payload.sid ? payload.sid : undefined;
        const sub = typeof payload.sub === 'string' && payload.sub ? payload.sub : undefined;
        if (!sid && !sub) throw new Error('neither sid nor sub');
        return { ...(sid ? { sid } : {}), ...(sub ? { sub } : {}), jti: String(payload.jti), exp: payload.exp };
      } catch (cause) {
        throw new SignInRefused('invalid_logout_token', 'The logout token was refused (signature, issuer, audience, events, nonce, sid/sub).', { cause });
      }
    },
    async verifyIdToken(token) {
      const { config: c, jwks: keys } = ready();
      const { payload } = await jwtVerify(token, keys, {
        algorithms: ASYMMETRIC,
        issuer: c.serverMetadata().issuer,
        audience: [...settings.idTokenAudiences],
        clockTolerance: options.clockToleranceSeconds,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      return payload;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** A provider's error code when it is a plain word (it ends up in a URL the user sees). */
function plainWord(text: string | undefined): string | undefined {
  return text && /^[a-z_]{1,64}$/.test(text) ? text : undefined;
}
