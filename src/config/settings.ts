/** The typed settings the rest of the service reads; built once by `loadSettings`. */
import type { SettingValue } from './settings-table';
import type { TrustProxy } from './trust-proxy';
import type { Catalogue } from '../upstream/catalogue';

export type UpstreamTarget =
  | { readonly kind: 'remote'; readonly baseUrl: string; readonly partnerId: string; readonly partnerSecret: string }
  | { readonly kind: 'embedded-sandbox' };

/** The values of `IDENTITY_MODE`, as the settings table lists them. */
export type IdentityMode = NonNullable<SettingValue<'IDENTITY_MODE'>>;

/** `IDENTITY_MODE=oidc`: the provider and this service's client there (`OIDC_*`). */
export interface OidcSettings {
  readonly issuerUrl: string;
  readonly clientId: string;
  /** Unset: a public client (PKCE only). */
  readonly clientSecret: string | undefined;
  /** The absolute URL of `GET /api/auth/callback`. */
  readonly redirectUrl: string;
  readonly scopes: readonly string[];
  /** The ID token claim that becomes `partnerClientId`. */
  readonly userClaim: string;
  readonly postLogoutRedirectUrl: string;
  /** Also accept the `jwt`-mode connect with an ID token of the same issuer (native apps). */
  readonly acceptIdTokens: boolean;
  /** The audiences an ID token at connect may carry. */
  readonly idTokenAudiences: readonly string[];
  readonly loginTtlSeconds: number;
  /** A plain-HTTP provider (development only). */
  readonly allowInsecureHttp: boolean;
}

export interface InternalApiKey {
  /** Name logged for audit; when absent a fingerprint of the key is logged. */
  readonly id: string | undefined;
  readonly key: string;
}

/** The values of `REDIS_MODE`, as the settings table lists them. */
export type RedisMode = SettingValue<'REDIS_MODE'>;

export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
}

/** Where Redis is, per `REDIS_MODE`. */
export type RedisTopology =
  | {
      readonly mode: 'standalone';
      readonly endpoint: RedisEndpoint;
      /** The database number of `REDIS_URL`'s path (0 when none). */
      readonly database: number;
    }
  | {
      readonly mode: 'sentinel';
      readonly sentinels: readonly RedisEndpoint[];
      /** `REDIS_SENTINEL_NAME`: the name the sentinels monitor the master under. */
      readonly masterName: string;
      /** `REDIS_SENTINEL_PASSWORD`, for the sentinels themselves. */
      readonly sentinelPassword: string | undefined;
    }
  | {
      readonly mode: 'cluster';
      /** Seed nodes: `REDIS_CLUSTER_NODES`, and `REDIS_URL`'s host when set. */
      readonly seeds: readonly RedisEndpoint[];
    };

/** The Redis connection settings, checked and read once at start-up. */
export interface RedisConnectionSettings {
  readonly topology: RedisTopology;
  /** `REDIS_USERNAME`, else the user of `REDIS_URL`. */
  readonly username: string | undefined;
  /** `REDIS_PASSWORD`, else the password of `REDIS_URL`. */
  readonly password: string | undefined;
  /** TLS to every Redis node and sentinel; `ca` is the PEM text of `REDIS_TLS_CA_FILE`. */
  readonly tls: { readonly ca: string | undefined } | undefined;
}

export interface Settings {
  /** What the loader noticed without refusing (names in our namespaces that are not ours), for the log. */
  readonly warnings: readonly string[];
  readonly nodeEnv: string;
  readonly production: boolean;
  readonly port: number;
  readonly internalPort: number;
  readonly host: string;
  readonly logLevel: SettingValue<'LOG_LEVEL'>;
  readonly shutdownTimeoutMs: number;
  /** SHUTDOWN_IDLE_GRACE_MS */
  readonly shutdownIdleGraceMs: number;
  readonly demoPage: boolean;
  readonly upstream: UpstreamTarget;
  readonly upstreamTimeoutMs: number;
  readonly upstreamMaxSockets: number;
  readonly signing: {
    readonly jsonEncoding: 'php' | 'standard';
    readonly signedHeadersFormat: 'object' | 'list';
    readonly emptyBody: '{}' | '[]';
    readonly signatureHeader: string;
  };
  /** The catalogue in force: the built-in one with `APM_CATALOGUE_FILE` applied. */
  readonly catalogue: Catalogue;
  /** How `auth/token`'s answer is read (`APM_BACKEND_TOKEN_*`). */
  readonly backendToken: {
    /** Path within `data` of the token, split at the dots (`['token']`). */
    readonly tokenField: readonly string[];
    /** Path within `data` of its life in seconds (`['expiresIn']`). */
    readonly expiresInField: readonly string[];
    /** Life assumed when the answer gives none. */
    readonly defaultTtlSeconds: number;
  };
  readonly redis: {
    /** `REDIS_URL` as given (it may hold credentials: never log it). */
    readonly url: string | undefined;
    readonly mode: RedisMode;
    /** How to reach Redis; undefined: no Redis, the in-process stores. */
    readonly connection: RedisConnectionSettings | undefined;
    readonly keyPrefix: string;
    readonly commandTimeoutMs: number;
  };
  readonly session: {
    readonly secrets: readonly string[];
    readonly cookieName: string;
    readonly idleTtlSeconds: number;
    readonly absoluteTtlSeconds: number;
    /** `SESSION_MAX_PER_USER`: live sessions one user may hold; a connect beyond it ends the oldest. */
    readonly maxPerUser: number;
    readonly tokenEncryptionKeys: readonly Buffer[];
    readonly cookieSecure: boolean;
    readonly cookieSameSite: 'lax' | 'strict' | 'none';
  };
  readonly identity: {
    readonly mode: IdentityMode;
    readonly jwksUrl: string | undefined;
    readonly jwtSecret: string | undefined;
    readonly jwtPublicKey: string | undefined;
    readonly jwtIssuer: string | undefined;
    readonly jwtAudience: string | undefined;
    readonly clockToleranceSeconds: number;
    readonly headerUser: string;
    readonly headerEmail: string;
    /** Set when the mode is `oidc`. */
    readonly oidc: OidcSettings | undefined;
  };
  readonly trustProxy: TrustProxy;
  readonly allowedOrigins: readonly string[];
  readonly browserActions: readonly string[];
  /** `PROGRAM_LANGUAGES`: the `lang` values forwarded (and cached), as configured. */
  readonly programLanguages: readonly string[];
  readonly cache: {
    readonly programTtlSeconds: number;
    readonly adsTtlSeconds: number;
    readonly adsScope: 'global' | 'user';
    readonly staleSeconds: number;
    /** In-process reuse of a fresh entry read from Redis (0: none). */
    readonly localMs: number;
  };
  readonly rateLimit: {
    readonly enabled: boolean;
    readonly windowSeconds: number;
    readonly ipMax: number;
    readonly connectMax: number;
    readonly mutationMax: number;
  };
  readonly internalApiKeys: readonly InternalApiKey[];
  readonly idempotencyTtlSeconds: number;
  /** `auto`, or the earn actions whose unknown outcome a same-key retry may settle (IDEMPOTENCY_RESOLVE_ACTIONS). */
  readonly idempotencyResolveActions: readonly string[];
  /** HTTP statuses without an envelope that prove a mutation was not applied. */
  readonly upstreamNotAppliedStatuses: readonly number[];
  readonly circuitBreaker: {
    readonly enabled: boolean;
    readonly failureThreshold: number;
    readonly failureRatePercent: number;
    readonly windowSeconds: number;
    /** Faults in a row that open the circuit; 0: off. */
    readonly consecutiveFailures: number;
    readonly openSeconds: number;
  };
}
