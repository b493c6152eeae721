import type { Request } from 'express';
import { createRemoteJWKSet, errors as joseErrors, importSPKI, jwtVerify, type JWTVerifyGetKey, type KeyObject } from 'jose';
import { createSecretKey } from 'node:crypto';
import type { Settings } from '../config/settings';
import { BadRequest, IdentityProviderUnavailable, Unauthenticated } from '../errors';
import { conformsTo, fields } from '../upstream/fields';
import { bearerCredentialOf } from './bearer-credential';
import type { OidcClient } from './oidc-client';

const { JWTClaimValidationFailed } = joseErrors;

/** Who is connecting, as established by the identity source, never by the browser. */
export interface Identity {
  readonly partnerClientId: string;
  readonly email?: string;
  readonly firstName?: string;
  readonly lastName?: string;
}

export interface IdentitySource {
  readonly mode: Settings['identity']['mode'];
  /** Resolves the identity or throws `Unauthenticated` / `BadRequest`. */
  resolve(req: Request, body: Readonly<Record<string, unknown>>): Promise<Identity>;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

const validPartnerClientId = conformsTo(fields.partnerClientId);
const profileRules = { email: conformsTo(fields.email), firstName: conformsTo(fields.name), lastName: conformsTo(fields.name) } as const;

/**
 * The identity as it may reach the upstream: the id must pass the catalogue's own rule for
 * `partnerClientId` (bounded, no control characters) whatever source asserted it, else `refuse`
 * is thrown; a profile field that fails its rule is left out rather than sent.
 */
function checkedIdentity(
  claimed: { partnerClientId: string | undefined; email?: string | undefined; firstName?: string | undefined; lastName?: string | undefined },
  refuse: () => Error,
): Identity {
  if (!validPartnerClientId(claimed.partnerClientId)) throw refuse();
  const out: { -readonly [K in keyof Identity]: Identity[K] } = { partnerClientId: claimed.partnerClientId! };
  for (const field of ['email', 'firstName', 'lastName'] as const) {
    const value = claimed[field];
    if (value && profileRules[field](value)) out[field] = value;
  }
  return out;
}

function jwtSource(settings: Settings['identity']): IdentitySource {
  let key: JWTVerifyGetKey | KeyObject | Uint8Array | Promise<KeyObject | Uint8Array>;
  let algorithms: string[];
  if (settings.jwksUrl) {
    key = createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
    algorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
  } else if (settings.jwtSecret) {
    key = createSecretKey(Buffer.from(settings.jwtSecret, 'utf8'));
    algorithms = ['HS256'];
  } else {
    // importSPKI needs the algorithm; accept the usual ones by trying them in turn at start.
    const pem = settings.jwtPublicKey ?? '';
    algorithms = ['RS256', 'ES256', 'PS256', 'EdDSA'];
    key = (async () => {
      for (const alg of algorithms) {
        try {
          return await importSPKI(pem, alg);
        } catch {
          // try the next algorithm
        }
      }
      throw new Error('IDENTITY_JWT_PUBLIC_KEY: not a usable SPKI PEM public key');
    })();
  }
  return {
    mode: 'jwt',
    async resolve(req) {
      const credential = bearerCredentialOf(req, true);
      const token = credential?.kind === 'id-token' ? credential.token : undefined;
      if (!token) throw new Unauthenticated('Connecting needs the partner ID token in Authorization: Bearer.');
      try {
        const resolved = key instanceof Promise ? await key : key;
        const verifyOptions = {
          algorithms,
          issuer: settings.jwtIssuer,
          audience: settings.jwtAudience,
          clockTolerance: settings.clockToleranceSeconds,
          requiredClaims: ['sub', 'exp'],
        };
        const { payload } =
          typeof resolved === 'function'
            ? await jwtVerify(token, resolved, verifyOptions)
            : await jwtVerify(token, resolved, verifyOptions);
        // jose checks `iat` only against a maximum age: a token issued in the future is refused here.
        if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + settings.clockToleranceSeconds) {
          throw new JWTClaimValidationFailed('"iat" claim timestamp check failed (issued in the future)', payload, 'iat', 'check_failed');
        }
        return checkedIdentity(
          { partnerClientId: str(payload.sub), email: str(payload.email), firstName: str(payload.given_name), lastName: str(payload.family_name) },
          () => new JWTClaimValidationFailed('"sub" claim is not a valid partnerClientId (1-128 characters, no control characters)', payload, 'sub', 'check_failed'),
        );
      } catch (cause) {
        throw new Unauthenticated('The ID token was refused (signature, issuer, audience, lifetime or identity).', { cause });
      }
    },
  };
}

/**
 * The identity an OpenID Provider's ID token asserts: `claim` (`OIDC_USER_CLAIM`) as the
 * partnerClientId, the standard claims for the profile; `refuse` is thrown when that claim is no
 * valid partnerClientId.
 */
export function identityFromClaims(claims: Readonly<Record<string, unknown>>, claim: string, refuse: () => Error): Identity {
  return checkedIdentity(
    { partnerClientId: str(claims[claim]), email: str(claims.email), firstName: str(claims.given_name), lastName: str(claims.family_name) },
    refuse,
  );
}

/**
 * `IDENTITY_MODE=oidc`: browsers sign in through `/api/auth/login`; the connect route takes the
 * `jwt`-mode ID token of a native app only with `OIDC_ACCEPT_ID_TOKENS`, checked against the same
 * provider's keys.
 */
function oidcSource(settings: Settings['identity'], client: OidcClient): IdentitySource {
  const oidc = settings.oidc!;
  return {
    mode: 'oidc',
    async resolve(req) {
      if (!oidc.acceptIdTokens) throw new Unauthenticated('Sign in with GET /api/auth/login (IDENTITY_MODE=oidc).');
      const credential = bearerCredentialOf(req, true);
      const token = credential?.kind === 'id-token' ? credential.token : undefined;
      if (!token) throw new Unauthenticated('Connecting needs an ID token of the identity provider in Authorization: Bearer, or GET /api/auth/login.');
      let payload: Readonly<Record<string, unknown>>;
      try {
        payload = await client.verifyIdToken(token);
      } catch (cause) {
        if (cause instanceof IdentityProviderUnavailable) throw cause;
        throw new Unauthenticated('The ID token was refused (signature, issuer, audience, lifetime or identity).', { cause });
      }
      return identityFromClaims(payload, oidc.userClaim, () => new Unauthenticated(`The ID token's ${oidc.userClaim} is not a valid partnerClientId.`));
    },
  };
}

function headerSource(settings: Settings['identity']): IdentitySource {
  return {
    mode: 'header',
    async resolve(req) {
      // Only a request that came through a trusted proxy may assert an identity by header.
      const trust = req.app.get('trust proxy fn') as (addr: string | undefined, i: number) => boolean;
      if (!trust(req.socket.remoteAddress, 0)) throw new Unauthenticated('Identity headers are only honoured from the trusted ingress.');
      const user = str(req.headers[settings.headerUser]);
      if (!user) throw new Unauthenticated(`No identity: header ${settings.headerUser} is missing.`);
      return checkedIdentity(
        { partnerClientId: user, email: str(req.headers[settings.headerEmail]) },
        () => new Unauthenticated(`No identity: header ${settings.headerUser} is not a valid partnerClientId (1-128 characters, no control characters).`),
      );
    },
  };
}

function insecureBodySource(): IdentitySource {
  return {
    mode: 'insecure-body',
    async resolve(_req, body) {
      return checkedIdentity(
        { partnerClientId: str(body.partnerClientId), email: str(body.email), firstName: str(body.firstName), lastName: str(body.lastName) },
        () => new BadRequest('partnerClientId is required (IDENTITY_MODE=insecure-body).'),
      );
    },
  };
}

/** The identity source of `IDENTITY_MODE`; `oidc` needs the provider's client. */
export function createIdentitySource(settings: Settings['identity'], oidcClient?: OidcClient): IdentitySource {
  switch (settings.mode) {
    case 'oidc':
      if (!oidcClient) throw new Error('createIdentitySource: IDENTITY_MODE=oidc needs the OpenID Provider client');
      return oidcSource(settings, oidcClient);
    case 'jwt':
      return jwtSource(settings);
    case 'header':
      return headerSource(settings);
    case 'insecure-body':
      return insecureBodySource();
  }
}
