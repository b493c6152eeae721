/**
 * Every setting of the service, once, as data: its kind (which parses the
 * environment's text into the value's type), its default, whether it is a
 * secret, its group and its description. The loader, `.env.example`,
 * `docs/configuration.md` and the Kubernetes manifests' checks are all derived
 * from this table, so a setting cannot be documented in one place and read
 * differently in another; the type of each setting's value is inferred from
 * its row, so the loader reads `get('NAME')` with no cast and a misspelt name
 * does not compile.
 */

/** What the environment's text was read as, or why it is refused (the loader prefixes the setting's name). */
export type Parsed<T> = { readonly value: T } | { readonly problem: string };

/** How a kind is shown in the generated docs. */
export type KindShape =
  | { readonly type: 'string' }
  | { readonly type: 'url' }
  | { readonly type: 'int'; readonly min: number; readonly max: number }
  | { readonly type: 'bool' }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'list' };

export type SettingKind<T> = KindShape & {
  /** `shown` is the text as a problem may quote it (a secret's is hidden). */
  readonly parse: (text: string, shown: string) => Parsed<T>;
  /** The environment's text for `value`: how a default is written in the generated docs. */
  readonly format: (value: T) => string;
};

export type SettingGroup =
  | 'service'
  | 'upstream'
  | 'redis'
  | 'session'
  | 'identity'
  | 'oidc'
  | 'browser'
  | 'cache'
  | 'rate-limit'
  | 'internal'
  | 'resilience';

/** A row of the table; `T` is the value's type, `undefined` included when the setting has no default. */
export interface SettingSpec<T> {
  readonly kind: SettingKind<NonNullable<T>>;
  /** The value when the environment leaves the setting unset or empty; undefined: unset. */
  readonly default: T;
  /** Secrets may come from `<NAME>_FILE` and are never logged. */
  readonly secret?: boolean;
  readonly group: SettingGroup;
  readonly description: string;
  /** A worked example where a value alone says too little (a file's content), shown in the generated docs. */
  readonly example?: { readonly caption: string; readonly language: string; readonly text: string };
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

const str: SettingKind<string> = { type: 'string', parse: (text) => ({ value: text }), format: (value) => value };

const url: SettingKind<string> = {
  type: 'url',
  parse: (text, shown) => {
    try {
      if (/^(https?|rediss?):$/.test(new URL(text).protocol)) return { value: text };
    } catch {
      // not a URL at all: the same refusal as a URL of another scheme
    }
    return { problem: `"${shown}" is not a valid URL.` };
  },
  format: (value) => value,
};

const int = (min: number, max: number): SettingKind<number> => ({
  type: 'int',
  min,
  max,
  parse: (text, shown) => {
    if (!/^-?\d+$/.test(text.trim())) return { problem: `"${shown}" is not a whole number.` };
    const n = Number(text.trim());
    return n < min || n > max ? { problem: `${n} is outside ${min}..${max}.` } : { value: n };
  },
  format: String,
});

const bool: SettingKind<boolean> = {
  type: 'bool',
  parse: (text, shown) => {
    const v = text.trim().toLowerCase();
    if (TRUE.has(v)) return { value: true };
    if (FALSE.has(v)) return { value: false };
    return { problem: `"${shown}" is not true or false.` };
  },
  format: String,
};

const oneOf = <const V extends string>(...values: readonly V[]): SettingKind<V> => ({
  type: 'enum',
  values,
  parse: (text, shown) => {
    const value = values.find((v) => v === text.trim());
    return value === undefined ? { problem: `"${shown}" is not one of ${values.join(', ')}.` } : { value };
  },
  format: (value) => value,
});

const list: SettingKind<readonly string[]> = {
  type: 'list',
  parse: (text) => ({
    value: text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  }),
  format: (value) => value.join(','),
};

const definitions = {
  // service
  NODE_ENV: { kind: str, default: 'development', group: 'service', description: '`production` turns on every start-up refusal of unsafe settings.' },
  PORT: { kind: int(1, 65535), default: 3000, group: 'service', description: 'Public listener (`/api`, demo page).' },
  INTERNAL_PORT: { kind: int(1, 65535), default: 9091, group: 'service', description: 'Internal listener (`/internal`, `/metrics`, `/healthz`, `/readyz`); never routed by the ingress.' },
  HOST: { kind: str, default: '0.0.0.0', group: 'service', description: 'Address both listeners bind to.' },
  LOG_LEVEL: { kind: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), default: 'info', group: 'service', description: 'pino log level.' },
  SHUTDOWN_TIMEOUT_MS: { kind: int(0, 600_000), default: 20_000, group: 'service', description: 'On SIGTERM, how long in-flight requests may take before connections are closed.' },
  SHUTDOWN_IDLE_GRACE_MS: { kind: int(0, 60_000), default: 1000, group: 'service', description: 'On SIGTERM, how long a keep-alive connection idle at that moment stays open for a request already on its way (answered 503 with `Connection: close`) before it is closed (the grace ends early once no connection is left); 0 closes idle connections at once, which resets a request sent at that instant.' },
  DEMO_PAGE: { kind: bool, default: undefined, group: 'service', description: 'Serve the demo page at `/`. Default: on with the embedded sandbox, off otherwise.' },

  // upstream
  APM_BASE_URL: { kind: url, default: undefined, group: 'upstream', description: "The app's miles API base, ending in `/` (sandbox `https://api-sandbox.appsmiles.eu/2.0/`). Unset: the sandbox simulator runs in process (refused in production)." },
  APM_PARTNER_ID: { kind: str, default: undefined, group: 'upstream', description: 'Partner id (`iss` of every signature).' },
  APM_PARTNER_SECRET: { kind: str, default: undefined, secret: true, group: 'upstream', description: 'Partner secret (HS256 key of every signature).' },
  APM_TIMEOUT_MS: { kind: int(100, 120_000), default: 5000, group: 'upstream', description: 'Upstream call timeout; past it the answer is 504.' },
  APM_JSON_ENCODING: { kind: oneOf('php', 'standard'), default: 'php', group: 'upstream', description: "How the body and `data_header` are encoded: PHP `json_encode` style (`\\/`, `\\uXXXX`) or `JSON.stringify`." },
  APM_SIGNED_HEADERS_FORMAT: { kind: oneOf('object', 'list'), default: 'object', group: 'upstream', description: '`data_header` as `{name: value}` or as a list of `"Name: value"` lines.' },
  APM_EMPTY_BODY: { kind: oneOf('{}', '[]'), default: '{}', group: 'upstream', description: 'How a call without parameters is encoded.' },
  APM_SIGNATURE_HEADER: { kind: str, default: 'Authorization', group: 'upstream', description: 'Header carrying the signature JWT (`Authorization` gets the `Bearer ` prefix; any other header gets the bare JWT).' },
  APM_BACKEND_TOKEN_FIELD: { kind: str, default: 'token', group: 'upstream', description: "Where `auth/token`'s answer holds the back-end token, as a path within its `data` (dots for nested objects, e.g. `auth.accessToken`)." },
  APM_BACKEND_TOKEN_EXPIRES_IN_FIELD: { kind: str, default: 'expiresIn', group: 'upstream', description: "Where `auth/token`'s answer holds the token's life in seconds, as a path within its `data`. When the answer has no such number, `APM_BACKEND_TOKEN_DEFAULT_TTL_SECONDS` applies." },
  APM_BACKEND_TOKEN_DEFAULT_TTL_SECONDS: { kind: int(10, 86_400), default: 300, group: 'upstream', description: 'Life assumed for a back-end token whose answer gives none (logged as a warning). Too long costs one refused call (errorCode 10), after which the token is renewed and the call retried once.' },
  APM_CATALOGUE_FILE: { kind: str, default: undefined, group: 'upstream', description: 'Optional JSON file that extends or amends the built-in catalogue of upstream endpoints at start-up: add or change a field, add an endpoint, take one off the surface. Checked at start-up, one message per problem. Routes, validation, the OpenAPI documents and `GET /api/endpoints.json` follow it. Format and rules: docs/catalogue-file.md.',
    example: {
      caption: 'a file that adds a field to `gift/list`, lowers a limit, takes `ad/news` off `/api` and adds a front-end endpoint',
      language: 'json',
      text: [
        '{',
        '  "endpoints": {',
        '    "gift/list": { "fields": { "category": { "type": "string", "maxLength": 32 } } },',
        '    "user/historyburns": { "fields": { "limit": { "maximum": 50 } } },',
        '    "ad/news": { "exposed": false },',
        '    "partner/stores": { "side": "front", "effect": "read", "get": true,',
        '                        "fields": { "city": { "type": "string", "maxLength": 64, "required": true } } }',
        '  }',
        '}',
      ].join('\n'),
    } },
  APM_MAX_SOCKETS: { kind: int(1, 10_000), default: 256, group: 'upstream', description: 'Keep-alive sockets to the upstream per replica.' },

  // redis
  REDIS_MODE: { kind: oneOf('standalone', 'sentinel', 'cluster'), default: 'standalone', group: 'redis', description: 'How Redis is reached: `standalone` (one server or a managed primary endpoint: `REDIS_URL`), `sentinel` (the master that `REDIS_SENTINELS` name, followed through failovers) or `cluster` (Redis Cluster, found from the seeds of `REDIS_CLUSTER_NODES` or `REDIS_URL`). See docs/operations.md.' },
  REDIS_URL: { kind: url, default: undefined, secret: true, group: 'redis', description: 'Redis for sessions, cache, idempotency, rate limits and the back-end token (`redis://` or `rediss://` for TLS; user, password and database number may be in it). `standalone`: the server; `cluster`: one seed node (a managed service\'s configuration endpoint); not used with `sentinel`. Unset (and no sentinels or cluster nodes): bounded in-process stores (refused in production).' },
  REDIS_SENTINELS: { kind: list, default: undefined, group: 'redis', description: '`sentinel` mode: comma list of sentinels, `host:port` (port 26379 when left out). Two or three are enough; the others are learnt from them.' },
  REDIS_SENTINEL_NAME: { kind: str, default: 'mymaster', group: 'redis', description: '`sentinel` mode: the name the sentinels monitor the master under (`sentinel monitor <name> …`).' },
  REDIS_SENTINEL_PASSWORD: { kind: str, default: undefined, secret: true, group: 'redis', description: '`sentinel` mode: password of the sentinels themselves, when they require one (`requirepass` in sentinel.conf); the data nodes take `REDIS_PASSWORD`.' },
  REDIS_CLUSTER_NODES: { kind: list, default: undefined, group: 'redis', description: '`cluster` mode: comma list of seed nodes, `host:port` (port 6379 when left out); a few are enough, the others are discovered.' },
  REDIS_USERNAME: { kind: str, default: undefined, group: 'redis', description: 'ACL user (Redis 6+) of every data node. Unset: the user of `REDIS_URL`, else `default`.' },
  REDIS_PASSWORD: { kind: str, default: undefined, secret: true, group: 'redis', description: 'Password of every data node (AUTH). Unset: the password of `REDIS_URL`, if any; set both and the start is refused.' },
  REDIS_TLS: { kind: bool, default: undefined, group: 'redis', description: 'TLS to every Redis node and sentinel. Unset: on when `REDIS_URL` is `rediss://`, off otherwise.' },
  REDIS_TLS_CA_FILE: { kind: str, default: undefined, group: 'redis', description: 'PEM file of the certificate authorities that sign the Redis servers\' certificates, when not a public one (a managed service\'s private CA). Needs TLS.' },
  REDIS_KEY_PREFIX: { kind: str, default: 'miles:', group: 'redis', description: 'Prefix of every key this service writes. No `{` or `}` with `cluster`: a hash tag there would put every key in one slot.' },
  REDIS_COMMAND_TIMEOUT_MS: { kind: int(50, 10_000), default: 1000, group: 'redis', description: 'A Redis command that takes longer fails (answer 503), so a stalled Redis never hangs a request.' },

  // session
  SESSION_SECRET: { kind: list, default: undefined, secret: true, group: 'session', description: 'Comma list of session-cookie signing secrets (32+ characters); the first signs, all verify (rotation). Unset outside production: random per process.' },
  SESSION_COOKIE_NAME: { kind: str, default: 'miles.sid', group: 'session', description: 'Session cookie name; takes the `__Host-` prefix when `COOKIE_SECURE` is on.' },
  SESSION_TTL_SECONDS: { kind: int(60, 31_536_000), default: 1800, group: 'session', description: 'Idle lifetime of a session.' },
  SESSION_ABSOLUTE_TTL_SECONDS: { kind: int(60, 31_536_000), default: 86_400, group: 'session', description: 'Absolute lifetime of a session, whatever its activity.' },
  SESSION_MAX_PER_USER: { kind: int(1, 10_000), default: 10, group: 'session', description: 'Live sessions one user may hold (devices and browsers, both transports together); a connect beyond it ends that user\'s oldest session, so one identity cannot fill the session store.' },
  TOKEN_ENCRYPTION_KEY: { kind: list, default: undefined, secret: true, group: 'session', description: 'Comma list of 32-byte keys (64 hex or 44 base64 characters) encrypting `userToken`s at rest (AES-256-GCM); the first encrypts, all decrypt. Unset: derived from `SESSION_SECRET`.' },
  COOKIE_SECURE: { kind: bool, default: true, group: 'session', description: 'Cookie `Secure` flag (and `__Host-` prefix). `false` only for plain-HTTP development.' },
  COOKIE_SAMESITE: { kind: oneOf('lax', 'strict', 'none'), default: 'lax', group: 'session', description: 'Cookie `SameSite`; `none` needs `COOKIE_SECURE`.' },

  // identity
  IDENTITY_MODE: { kind: oneOf('jwt', 'header', 'oidc', 'insecure-body'), default: undefined, group: 'identity', description: 'Where the connecting user\'s identity comes from: `jwt` (an ID token the front-end sends), `header` (the ingress\' auth layer), `oidc` (this service runs the OpenID Connect sign-in: `OIDC_*`), `insecure-body` (development). Unset outside production: `insecure-body`; required in production.' },
  IDENTITY_JWKS_URL: { kind: url, default: undefined, group: 'identity', description: "`jwt` mode: the partner identity provider's JWKS." },
  IDENTITY_JWT_SECRET: { kind: str, default: undefined, secret: true, group: 'identity', description: '`jwt` mode: HS256 secret of the ID tokens.' },
  IDENTITY_JWT_PUBLIC_KEY: { kind: str, default: undefined, secret: true, group: 'identity', description: '`jwt` mode: PEM public key (SPKI) of the ID tokens.' },
  IDENTITY_JWT_ISSUER: { kind: str, default: undefined, group: 'identity', description: '`jwt` mode: required `iss`.' },
  IDENTITY_JWT_AUDIENCE: { kind: str, default: undefined, group: 'identity', description: '`jwt` mode: required `aud`.' },
  IDENTITY_JWT_CLOCK_TOLERANCE_SECONDS: { kind: int(0, 300), default: 30, group: 'identity', description: '`jwt` mode: clock skew tolerated on `exp`/`nbf`/`iat`.' },
  IDENTITY_HEADER_USER: { kind: str, default: 'x-auth-request-user', group: 'identity', description: '`header` mode: header holding the partnerClientId.' },
  IDENTITY_HEADER_EMAIL: { kind: str, default: 'x-auth-request-email', group: 'identity', description: '`header` mode: header holding the e-mail.' },

  // oidc
  OIDC_ISSUER_URL: { kind: url, default: undefined, group: 'oidc', description: '`oidc` mode: the OpenID Provider\'s issuer; its discovery document (`/.well-known/openid-configuration`) is read at start, retried with backoff while it cannot be reached (`/readyz` says so in `checks.identityProvider`). `https://` only, unless `OIDC_ALLOW_INSECURE_HTTP`.' },
  OIDC_CLIENT_ID: { kind: str, default: undefined, group: 'oidc', description: '`oidc` mode: this service\'s client id at the provider (the `aud` of its ID tokens).' },
  OIDC_CLIENT_SECRET: { kind: str, default: undefined, secret: true, group: 'oidc', description: '`oidc` mode: the client secret (`client_secret_basic`). Unset: a public client (PKCE only).' },
  OIDC_REDIRECT_URL: { kind: url, default: undefined, group: 'oidc', description: '`oidc` mode: the absolute URL of `GET /api/auth/callback` as the browser reaches it (`https://partner.example/api/auth/callback`), registered at the provider as a redirect URI.' },
  OIDC_SCOPES: { kind: list, default: ['openid', 'email', 'profile'], group: 'oidc', description: '`oidc` mode: scopes asked for at sign-in (comma list; must hold `openid`).' },
  OIDC_USER_CLAIM: { kind: str, default: 'sub', group: 'oidc', description: '`oidc` mode: the ID token claim that becomes `partnerClientId` (`email`, `given_name` and `family_name` give the profile).' },
  OIDC_POST_LOGOUT_REDIRECT_URL: { kind: url, default: undefined, group: 'oidc', description: '`oidc` mode: where the provider sends the browser back after `GET /api/auth/logout` ended its session too (registered at the provider). Unset: the origin of `OIDC_REDIRECT_URL`.' },
  OIDC_ACCEPT_ID_TOKENS: { kind: bool, default: false, group: 'oidc', description: '`oidc` mode: also accept the `jwt`-mode connect (`Authorization: Bearer <ID token>` on `user/clientcheckcredentials`) for native apps that sign in with the same provider themselves (AppAuth); the token is checked against the same issuer\'s keys, with `OIDC_CLIENT_ID` or `OIDC_ID_TOKEN_AUDIENCES` as audience.' },
  OIDC_ID_TOKEN_AUDIENCES: { kind: list, default: [], group: 'oidc', description: '`oidc` mode with `OIDC_ACCEPT_ID_TOKENS`: the client ids of the native apps whose ID tokens a connect accepts (comma list). Empty: `OIDC_CLIENT_ID` only.' },
  OIDC_LOGIN_TTL_SECONDS: { kind: int(30, 1800), default: 300, group: 'oidc', description: '`oidc` mode: how long a sign-in started by `GET /api/auth/login` may take at the provider before its `state` is forgotten.' },
  OIDC_ALLOW_INSECURE_HTTP: { kind: bool, default: false, group: 'oidc', description: '`oidc` mode: allow a plain `http://` issuer and redirect URL (a provider on the developer\'s machine). Refused when `NODE_ENV=production`.' },

  // browser
  TRUST_PROXY: { kind: str, default: 'false', group: 'browser', description: "Which peers are trusted proxies (Express `trust proxy`): the ingress' addresses or CIDRs as a comma list (e.g. `10.244.0.0/16`; the names `loopback`, `linklocal`, `uniquelocal` too). Client IPs, protocol and identity headers are taken only from them. `true` or a hop count trusts whatever peer connects, so a direct caller can choose its client IP (a warning is logged); with `IDENTITY_MODE=header` they are refused at start-up, as is a range wider than /8 (IPv4) or /7 (IPv6) or ranges covering every address." },
  ALLOWED_ORIGINS: { kind: list, default: [], group: 'browser', description: 'Comma list of other origins (scheme://host[:port]) allowed to call `/api` with credentials.' },
  BROWSER_ACTIONS: { kind: list, default: ['*'], group: 'browser', description: 'Actions a browser may store with `generosity/store` (`*`: all); others are 403 and belong to `buffer/store`.' },

  // cache
  CACHE_TTL_GETPROG_SECONDS: { kind: int(0, 86_400), default: 300, group: 'cache', description: 'Freshness of the cached program, per `lang`.' },
  CACHE_TTL_ADS_SECONDS: { kind: int(0, 86_400), default: 60, group: 'cache', description: 'Freshness of the cached ads, per endpoint and `lang`.' },
  CACHE_SCOPE_ADS: { kind: oneOf('global', 'user'), default: 'global', group: 'cache', description: 'Ads cached once for everyone or per user.' },
  CACHE_LOCAL_MS: { kind: int(0, 10_000), default: 1000, group: 'cache', description: 'How long a replica reuses a fresh cached answer it read from Redis before reading it again: a hit without a Redis round trip. A purge on another replica reaches this one within this time. 0: every hit reads Redis.' },
  CACHE_STALE_SECONDS: { kind: int(0, 604_800), default: 3600, group: 'cache', description: 'How long past freshness a cached answer may still be served while refreshing or while the upstream fails.' },

  PROGRAM_LANGUAGES: { kind: list, default: ['fr', 'en'], group: 'cache', description: "Languages of the program's content that `lang` may ask for (comma list). A `lang` is matched without regard to case (`FR` is `fr`) and a regional tag falls back to its language (`fr-CA` is `fr`); any other language is left out of the upstream call, so it is answered in the upstream's default language from the entry without `lang`: it never makes a cache entry or an upstream call of its own." },

  // rate limits
  RATE_LIMIT_ENABLED: { kind: bool, default: true, group: 'rate-limit', description: 'Rate limits on `/api`.' },
  RATE_LIMIT_WINDOW_SECONDS: { kind: int(1, 86_400), default: 60, group: 'rate-limit', description: 'Window of every limit.' },
  RATE_LIMIT_IP_MAX: { kind: int(1, 10_000_000), default: 600, group: 'rate-limit', description: 'Requests per client IP per window.' },
  RATE_LIMIT_CONNECT_MAX: { kind: int(1, 1_000_000), default: 30, group: 'rate-limit', description: 'Connects per client IP per window.' },
  RATE_LIMIT_MUTATION_MAX: { kind: int(1, 1_000_000), default: 120, group: 'rate-limit', description: 'Mutations per session per window.' },

  // internal
  INTERNAL_API_KEYS: { kind: list, default: [], secret: true, group: 'internal', description: 'Comma list of keys partner services send as `Authorization: Bearer <key>` on `/internal`; `name:key` entries log `name`, bare keys log a fingerprint. Empty: `/internal` refuses every call.' },
  IDEMPOTENCY_TTL_SECONDS: { kind: int(60, 604_800), default: 86_400, group: 'internal', description: 'How long an `Idempotency-Key` answer is kept and replayed.' },
  IDEMPOTENCY_RESOLVE_ACTIONS: { kind: list, default: ['auto'], group: 'internal', description: "Earn actions (`generosity/store`, `buffer/store`) whose unknown outcome a same-key retry may settle by sending the request again, when it carries a `param1`: the upstream refuses a duplicate `action` + `param1` (errorCode 7, then answered as the success it proves, with `data.alreadyApplied: true`). `auto`: the actions the program (`partner/getprog`) lists without a `maxPerUser`, whose only errorCode 7 is a duplicate; a comma list names them instead; `none`: every unknown outcome stays 504." },
  UPSTREAM_NOT_APPLIED_STATUSES: { kind: list, default: ['503'], group: 'internal', description: "HTTP statuses that, answered without the upstream's envelope (a proxy's page in front of it), prove a mutation was not applied: its `Idempotency-Key` is released and a retry may send it. Other 5xx stay \"outcome unknown\"." },

  // resilience
  CIRCUIT_BREAKER_ENABLED: { kind: bool, default: true, group: 'resilience', description: 'Circuit breaker in front of the upstream: after repeated upstream faults (timeouts, unreachable, 5xx, unreadable answers) calls are refused at once with 503 and `Retry-After` instead of waiting on a failing upstream. Per replica.' },
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: { kind: int(1, 1_000_000), default: 5, group: 'resilience', description: 'Upstream faults within the window that open the circuit.' },
  CIRCUIT_BREAKER_FAILURE_RATE_PERCENT: { kind: int(1, 100), default: 50, group: 'resilience', description: "Share of the window's upstream calls that must have failed too (percent), so that sparse faults among many successes do not open it." },
  CIRCUIT_BREAKER_WINDOW_SECONDS: { kind: int(1, 3600), default: 10, group: 'resilience', description: 'Sliding window over which upstream faults are counted.' },
  CIRCUIT_BREAKER_CONSECUTIVE_FAILURES: { kind: int(0, 1_000_000), default: 10, group: 'resilience', description: 'Upstream faults in a row, with no answer between them, that open the circuit whatever the window holds: a stalled upstream fails fast after about one timeout even when the window still holds the successes of the seconds before. 0: off.' },
  CIRCUIT_BREAKER_OPEN_SECONDS: { kind: int(1, 3600), default: 5, group: 'resilience', description: 'How long an open circuit refuses calls before one trial call (half-open); a successful trial closes it, a failed one opens it again.' },
} as const;

type Definitions = typeof definitions;

export type SettingName = keyof Definitions;

type KindValue<K> = K extends SettingKind<infer T> ? T : never;

/** The value of setting `N` as the loader returns it: `undefined` only for a setting without a default. */
export type SettingValue<N extends SettingName> = KindValue<Definitions[N]['kind']> | Definitions[N]['default'];

/**
 * The table, each row checked against its own value type: a default of another type than its
 * kind's (a `default: 'loose'` for an enum without it) does not compile.
 */
export const settingDefinitions: { readonly [N in SettingName]: SettingSpec<SettingValue<N>> } = definitions;

export function isSettingName(name: string): name is SettingName {
  return Object.hasOwn(settingDefinitions, name);
}

/** Every setting's name, in the table's order (the order of the docs and of start-up problems). */
export const settingNames: readonly SettingName[] = Object.keys(settingDefinitions).filter(isSettingName);

/** A row as the docs and checks of other files read it: the default as the environment's text. */
export interface SettingDefinition {
  readonly name: string;
  readonly kind: KindShape;
  /** Default as it would be written in the environment; undefined means unset. */
  readonly default: string | undefined;
  readonly secret: boolean;
  readonly group: SettingGroup;
  readonly description: string;
  readonly example: SettingSpec<unknown>['example'];
}

function describeSetting<N extends SettingName>(name: N): SettingDefinition {
  const { kind, default: value, secret, group, description, example } = settingDefinitions[name];
  return {
    name,
    kind,
    default: value === undefined ? undefined : kind.format(value),
    secret: secret ?? false,
    group,
    description,
    example,
  };
}

export const settingsTable: readonly SettingDefinition[] = settingNames.map(describeSetting);

export const settingsByName: ReadonlyMap<string, SettingDefinition> = new Map(settingsTable.map((s) => [s.name, s]));
