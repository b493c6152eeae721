/** The typed settings the rest of the service reads; built once by `loadSettings`. */

export type UpstreamTarget =
  | { readonly kind: 'remote'; readonly baseUrl: string; readonly partnerId: string; readonly partnerSecret: string }
  | { readonly kind: 'embedded-sandbox' };

export type IdentityMode = 'jwt' | 'header' | 'insecure-body';

export interface InternalApiKey {
  /** Name logged for audit; when absent a fingerprint of the key is logged. */
  readonly id: string | undefined;
  readonly key: string;
}

export interface Settings {
  readonly nodeEnv: string;
  readonly production: boolean;
  readonly port: number;
  readonly internalPort: number;
  readonly host: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly shutdownTimeoutMs: number;
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
  readonly redis: {
    readonly url: string | undefined;
    readonly keyPrefix: string;
    readonly commandTimeoutMs: number;
  };
  readonly session: {
    readonly secrets: readonly string[];
    readonly cookieName: string;
    readonly idleTtlSeconds: number;
    readonly absoluteTtlSeconds: number;
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
  };
  readonly trustProxy: boolean | number | readonly string[];
  readonly allowedOrigins: readonly string[];
  readonly browserActions: readonly string[];
  readonly cache: {
    readonly programTtlSeconds: number;
    readonly adsTtlSeconds: number;
    readonly adsScope: 'global' | 'user';
    readonly staleSeconds: number;
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
}
