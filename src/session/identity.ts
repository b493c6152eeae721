import type { Request } from 'express';
import { createRemoteJWKSet, importSPKI, jwtVerify, type JWTVerifyGetKey, type KeyObject } from 'jose';
import { createSecretKey } from 'node:crypto';
import type { Settings } from '../config/settings';
import { BadRequest, Unauthenticated } from '../errors';
import { bearerCredentialOf } from './bearer-credential';

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

function compact(identity: { partnerClientId: string; email?: string | undefined; firstName?: string | undefined; lastName?: string | undefined }): Identity {
  const out: { -readonly [K in keyof Identity]: Identity[K] } = { partnerClientId: identity.partnerClientId };
  if (identity.email) out.email = identity.email;
  if (identity.firstName) out.firstName = identity.firstName;
  if (identity.lastName) out.lastName = identity.lastName;
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
        const sub = str(payload.sub);
        if (!sub || sub.length > 128) throw new Error('sub missing or too long');
        return compact({ partnerClientId: sub, email: str(payload.email), firstName: str(payload.given_name), lastName: str(payload.family_name) });
      } catch (cause) {
        throw new Unauthenticated('The ID token was refused (signature, issuer, audience or expiry).', { cause });
      }
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
      if (!user || user.length > 128) throw new Unauthenticated(`No identity: header ${settings.headerUser} is missing.`);
      return compact({ partnerClientId: user, email: str(req.headers[settings.headerEmail]) });
    },
  };
}

function insecureBodySource(): IdentitySource {
  return {
    mode: 'insecure-body',
    async resolve(_req, body) {
      const pcid = str(body.partnerClientId);
      if (!pcid) throw new BadRequest('partnerClientId is required (IDENTITY_MODE=insecure-body).');
      return compact({ partnerClientId: pcid, email: str(body.email), firstName: str(body.firstName), lastName: str(body.lastName) });
    },
  };
}

export function createIdentitySource(settings: Settings['identity']): IdentitySource {
  switch (settings.mode) {
    case 'jwt':
      return jwtSource(settings);
    case 'header':
      return headerSource(settings);
    case 'insecure-body':
      return insecureBodySource();
  }
}
