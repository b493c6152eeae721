import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IdentityMode } from '../config/settings';
import { answerComponents } from '../upstream/answers';
import { backEndpoints, frontEndpoints, type EndpointSpec, type Side } from '../upstream/catalogue';
import { jsonSchemaFor, jsonSchemaForObject, opt, req, type FieldSet, type JsonSchema } from '../upstream/fields';
import { serviceOperations, type ServiceOperation } from './service-operations';
import { ErrorCode } from '../upstream/error-code';

/**
 * The OpenAPI 3.1 documents of both listeners, derived from the catalogue and
 * the service's own operations: one generator, two sides. Request bodies are
 * the catalogue's field specs and each 200 is the envelope around the
 * catalogue's `data` schema, as JSON Schema (2020-12, which OpenAPI 3.1
 * speaks natively), so the documents cannot drift from the validation nor
 * from the answers. `npm run openapi` writes them to docs/openapi/.
 *
 * @example
 * const doc = buildOpenApiDocument('back');
 * doc.paths['/internal/user/info'].post.requestBody
 */
export interface OpenApiOptions {
  /** `info.version`; the package version by default. */
  readonly version?: string;
  /** Front: the session cookie's name (`SESSION_COOKIE_NAME`, `__Host-` prefixed when secure). */
  readonly sessionCookieName?: string;
  /** Front: how connect learns who the user is (`IDENTITY_MODE`). */
  readonly identityMode?: IdentityMode;
  /** Endpoints to document; the catalogue's exposed ones of that side by default. */
  readonly endpoints?: readonly EndpointSpec[];
}

export type OpenApiDocument = JsonSchema & {
  readonly openapi: string;
  readonly paths: Record<string, Record<string, JsonSchema>>;
  readonly components: {
    readonly schemas: Record<string, JsonSchema>;
    readonly parameters: Record<string, JsonSchema>;
    readonly securitySchemes: Record<string, JsonSchema>;
  };
};

const PREFIX: Record<Side, string> = { front: '/api/', back: '/internal/' };
const JSON_MEDIA = 'application/json';
const PROBLEM_MEDIA = 'application/problem+json';

interface PackageInfo {
  readonly version: string;
  readonly license: string;
}

let packageInfo: PackageInfo | undefined;
/** Read once; `src/openapi` and `dist/openapi` both sit two levels below package.json. */
function servicePackage(): PackageInfo {
  if (packageInfo === undefined) {
    let manifest: { version?: unknown; license?: unknown } = {};
    try {
      manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as typeof manifest;
    } catch {
      // Without its package.json (a copied dist/), the document still builds.
    }
    packageInfo = {
      version: typeof manifest.version === 'string' ? manifest.version : '0.0.0',
      license: typeof manifest.license === 'string' ? manifest.license : 'UNLICENSED',
    };
  }
  return packageInfo;
}

/** OpenAPI 3.1 wants an SPDX expression; npm's `UNLICENSED` (all rights reserved) is none, so it becomes a LicenseRef. */
function licenseOf(npmLicense: string): JsonSchema {
  return npmLicense === 'UNLICENSED' || /^SEE LICENSE/i.test(npmLicense)
    ? { name: 'Proprietary: all rights reserved', identifier: 'LicenseRef-Proprietary' }
    : { name: npmLicense, identifier: npmLicense };
}

const words = (path: string): string[] => path.split(/[/._-]/).filter(Boolean);
const capital = (w: string): string => w.charAt(0).toUpperCase() + w.slice(1);
const pascal = (path: string): string => words(path).map(capital).join('');
const camel = (path: string): string => {
  const p = pascal(path);
  return p.charAt(0).toLowerCase() + p.slice(1);
};
const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

const envelopeSchema: JsonSchema = {
  type: 'object',
  description:
    "The upstream's envelope of a business refusal, passed through (never holding a token): errorCode 2, 4, 5, 6, 7 or 11. A success is the endpoint's own answer schema, with errorCode 0 and its typed `data`.",
  required: ['errorCode', 'errorMsg'],
  properties: {
    errorCode: { type: 'integer', description: 'The upstream errorCode (UPSTREAM.md).' },
    errorMsg: { type: 'string' },
    data: { type: 'object', additionalProperties: true, description: 'Whatever the upstream added to its refusal, if anything.' },
  },
};

/** The envelope of a success, around one endpoint's `data` schema. */
function successEnvelope(dataSchemaName: string, extraProperties: Record<string, JsonSchema> = {}): JsonSchema {
  return {
    type: 'object',
    description: "The upstream's envelope of a success, passed through (never holding a token).",
    required: ['errorCode', 'errorMsg', 'data'],
    properties: {
      errorCode: { type: 'integer', const: ErrorCode.Ok },
      errorMsg: { type: 'string', description: 'The upstream\'s message, e.g. `ok`.' },
      data: ref(dataSchemaName),
      ...extraProperties,
    },
  };
}

const sessionTokenSchema: JsonSchema = {
  type: 'object',
  description: 'Only with `X-Session-Transport: token`: the opaque session token and its idle lifetime in seconds.',
  required: ['token', 'expiresIn'],
  properties: { token: { type: 'string' }, expiresIn: { type: 'integer' } },
};

const problemSchema: JsonSchema = {
  type: 'object',
  description: 'RFC 9457 problem document: every error of the service itself, and upstream faults.',
  required: ['type', 'title', 'status', 'detail', 'requestId'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    requestId: { type: 'string' },
    code: { type: 'string', description: 'Stable machine-readable code, e.g. `ERR_BAD_REQUEST`.' },
    upstreamErrorCode: { type: 'integer', description: 'The upstream errorCode behind the problem, when there was one.' },
    issues: { type: 'array', items: { type: 'string' }, description: 'What the validation refused.' },
  },
};

function problem(description: string): JsonSchema {
  return { description, content: { [PROBLEM_MEDIA]: { schema: ref('Problem') } } };
}

function envelopeOrProblem(description: string): JsonSchema {
  return { description, content: { [JSON_MEDIA]: { schema: ref('Envelope') }, [PROBLEM_MEDIA]: { schema: ref('Problem') } } };
}

const requestIdHeader: JsonSchema = { description: 'The request id (taken from the request when valid, else generated).', schema: { type: 'string' } };

function ok(schema: JsonSchema, description = 'Success.'): JsonSchema {
  return { description, headers: { 'X-Request-Id': requestIdHeader }, content: { [JSON_MEDIA]: { schema } } };
}

const parameters: Record<string, JsonSchema> = {
  XRequestId: {
    name: 'X-Request-Id',
    in: 'header',
    required: false,
    description: 'Correlation id, 1-128 characters of `[A-Za-z0-9._-]`; echoed and signed upstream.',
    schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
  },
  IdempotencyKey: {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description: 'A repeat with the same key (and body) replays the first answer without reaching the upstream again; a repeat while the first is in flight is 409; the same key with another body is 422. Keys live 24 h.',
    schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,128}$' },
  },
  XCsrf: {
    name: 'X-CSRF',
    in: 'header',
    required: false,
    description: 'Must be `1` on every non-GET request authenticated by the session cookie (403 otherwise); not needed with `Authorization: Bearer`.',
    schema: { type: 'string', const: '1' },
  },
  XSessionTransport: {
    name: 'X-Session-Transport',
    in: 'header',
    required: false,
    description: '`token` for mobile apps: the answer carries `session: {token, expiresIn}` and no cookie; then send `Authorization: Bearer <token>`.',
    schema: { type: 'string', enum: ['cookie', 'token'] },
  },
};
const param = (name: string): JsonSchema => ({ $ref: `#/components/parameters/${name}` });

/**
 * The fields of connect as the public route accepts them: the identity comes
 * from IDENTITY_MODE, so the body's `partnerClientId` is required only where
 * the body is the identity (insecure-body). Without a mode (the committed
 * documents) it is optional, as in the modes a production service runs.
 */
function connectFields(endpoint: EndpointSpec, mode: IdentityMode | undefined): FieldSet {
  const pcid = endpoint.fields.partnerClientId;
  if (!pcid) return endpoint.fields;
  return { ...endpoint.fields, partnerClientId: mode === 'insecure-body' ? req(pcid.spec) : opt(pcid.spec) };
}

function commonErrors(side: Side, method: 'get' | 'post', idempotent: boolean): Record<string, JsonSchema> {
  return {
    400: envelopeOrProblem('Invalid parameters: refused by the service before anything is forwarded (problem), or by the upstream (errorCode 2).'),
    ...(side === 'back' ? { 401: problem('Missing or invalid API key.') } : {}),
    404: envelopeOrProblem('Unknown user (errorCode 11) or action (6), or no such route (problem).'),
    409: envelopeOrProblem('Business conflict (errorCode 4, 5, 7), or a repeat of an Idempotency-Key still in flight (problem).'),
    ...(method === 'post' ? { 413: problem('Body over 16 KiB.'), 415: problem('Body not application/json.') } : {}),
    ...(idempotent ? { 422: problem('Idempotency-Key reused with another body.') } : {}),
    ...(side === 'front' ? { 429: problem('Rate limited; see Retry-After.') } : {}),
    502: problem('Upstream fault: errorCode 1, 8, 9, 10 or 99, unreachable, or an unreadable answer.'),
    503: problem('Session store unavailable or the service is draining; see Retry-After.'),
    504: problem('The upstream did not answer in time.'),
    default: problem('Any other error of the service.'),
  };
}

interface Context {
  readonly side: Side;
  readonly schemas: Record<string, JsonSchema>;
  readonly options: OpenApiOptions;
}

function frontSecurity(endpoint: EndpointSpec, identityMode: IdentityMode | undefined): JsonSchema[] {
  if (endpoint.token !== 'none') return [{ sessionCookie: [] }, { sessionToken: [] }];
  if (endpoint.sessionEffect === 'connect' && (identityMode === 'jwt' || identityMode === 'oidc')) return [{ identityToken: [] }];
  return [];
}

function catalogueOperations(ctx: Context, endpoint: EndpointSpec): Record<string, JsonSchema> {
  const { side } = ctx;
  const isConnect = endpoint.sessionEffect === 'connect';
  const requestName = `${pascal(endpoint.path)}Request`;
  const bodyFields = side === 'front' && isConnect ? connectFields(endpoint, ctx.options.identityMode) : endpoint.fields;
  ctx.schemas[requestName] = jsonSchemaForObject(bodyFields);
  if (side === 'front' && isConnect) ctx.schemas[requestName]!.description = connectDescription(ctx.options.identityMode);

  const dataName = `${pascal(endpoint.path)}Data`;
  ctx.schemas[dataName] = endpoint.servedData;
  // The connect answer keeps its earlier component name; the mobile transport adds `session`.
  const answerName = side === 'front' && isConnect ? 'ConnectAnswer' : `${pascal(endpoint.path)}Answer`;
  ctx.schemas[answerName] = side === 'front' && isConnect ? successEnvelope(dataName, { session: sessionTokenSchema }) : successEnvelope(dataName);
  const okSchema = ref(answerName);
  const security = side === 'front' ? { security: frontSecurity(endpoint, ctx.options.identityMode) } : {};
  const tags = [words(endpoint.path)[0]!];
  const sessionErrors = side === 'front' && (endpoint.token !== 'none' || isConnect) ? { 401: problem('No connected session, or the upstream ended it (errorCode 3).') } : {};
  const frontErrors = side === 'front' ? { 403: problem('Refused origin, missing X-CSRF, or an action a browser may not store.') } : {};
  const extra = { 'x-upstream-endpoint': endpoint.path, 'x-effect': endpoint.effect };

  const post: JsonSchema = {
    operationId: camel(endpoint.path),
    summary: endpoint.summary,
    tags,
    ...security,
    parameters: [
      param('XRequestId'),
      ...(side === 'front' ? [param('XCsrf')] : []),
      ...(endpoint.idempotent ? [param('IdempotencyKey')] : []),
      ...(isConnect ? [param('XSessionTransport')] : []),
    ],
    requestBody: {
      required: false,
      description: 'A JSON object; an empty body counts as `{}`. Unknown fields are refused.',
      content: { [JSON_MEDIA]: { schema: ref(requestName) } },
    },
    responses: { 200: ok(okSchema), ...commonErrors(side, 'post', endpoint.idempotent), ...sessionErrors, ...frontErrors },
    ...extra,
  };
  const item: Record<string, JsonSchema> = { post };
  if (side === 'front' && endpoint.allowGet) {
    item.get = {
      operationId: `${camel(endpoint.path)}ViaGet`,
      summary: `${endpoint.summary} (query parameters instead of a body)`,
      tags,
      ...security,
      parameters: [
        param('XRequestId'),
        ...Object.entries(endpoint.fields)
          .filter(([, use]) => use.spec.type !== 'array')
          .map(([name, use]) => ({ name, in: 'query', required: use.required, schema: jsonSchemaFor(use.spec) })),
      ],
      responses: {
        200: ok(okSchema),
        ...(endpoint.cache !== 'none' ? { 304: { description: 'Not modified (If-None-Match matched the ETag).' } } : {}),
        ...commonErrors(side, 'get', false),
        ...sessionErrors,
        ...frontErrors,
      },
      ...extra,
    };
  }
  return item;
}

function connectDescription(mode: IdentityMode | undefined): string {
  switch (mode) {
    case 'jwt':
      return "The user is the subject of the partner's ID token in `Authorization: Bearer`; identity fields of the body are not used. The body may add `dataConsentCode` and `lang`.";
    case 'header':
      return "The user comes from the ingress' trusted headers; identity fields of the body are not used. The body may add `dataConsentCode` and `lang`.";
    case 'oidc':
      return "Browsers sign in through `GET /api/auth/login` (IDENTITY_MODE=oidc); this connect takes only a native app's ID token of the same provider in `Authorization: Bearer`, and only with OIDC_ACCEPT_ID_TOKENS. The body may add `dataConsentCode` and `lang`.";
    case 'insecure-body':
      return 'Development and sandbox only (IDENTITY_MODE=insecure-body): the identity comes from the body, `partnerClientId` required.';
    default:
      return "The user comes from the service's IDENTITY_MODE: the partner's ID token in `Authorization: Bearer` (`jwt`) or the ingress' trusted headers (`header`); the body may add `dataConsentCode` and `lang`. Only the development mode `insecure-body` reads the identity fields of the body, and then needs `partnerClientId`.";
  }
}

function serviceOperationItem(ctx: Context, op: ServiceOperation): JsonSchema {
  const base = pascal(op.path);
  ctx.schemas[`${base}Answer`] = op.response;
  const front = ctx.side === 'front';
  const operation: JsonSchema = {
    operationId: op.operationId,
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    tags: ['service'],
    ...(front ? { security: op.anonymous ? [{}, { sessionCookie: [] }, { sessionToken: [] }] : [{ sessionCookie: [] }, { sessionToken: [] }] } : {}),
    parameters: [param('XRequestId')],
    responses: {
      200: ok(ref(`${base}Answer`)),
      ...(op.method === 'post' ? { 400: problem('Invalid body.'), 413: problem('Body over 16 KiB.'), 415: problem('Body not application/json.') } : {}),
      ...(front ? { 403: problem('Refused origin.'), 429: problem('Rate limited; see Retry-After.') } : { 401: problem('Missing or invalid API key.') }),
      ...(op.path === 'cache/purge' ? { 501: problem('This service runs without a response cache.') } : {}),
      503: problem('Session store unavailable or the service is draining; see Retry-After.'),
      default: problem('Any other error of the service.'),
    },
  };
  if (op.method === 'post' && op.fields) {
    ctx.schemas[`${base}Request`] = jsonSchemaForObject(op.fields);
    operation.requestBody = { required: false, content: { [JSON_MEDIA]: { schema: ref(`${base}Request`) } } };
  }
  return operation;
}

export function buildOpenApiDocument(side: Side, options: OpenApiOptions = {}): OpenApiDocument {
  const schemas: Record<string, JsonSchema> = { Envelope: envelopeSchema, Problem: problemSchema, ...answerComponents };
  const ctx: Context = { side, schemas, options };
  const endpoints = options.endpoints ?? (side === 'front' ? frontEndpoints : backEndpoints);
  const paths: Record<string, Record<string, JsonSchema>> = {};

  for (const endpoint of endpoints) {
    if (endpoint.side !== side || !endpoint.exposed) continue;
    paths[`${PREFIX[side]}${endpoint.path}`] = catalogueOperations(ctx, endpoint);
  }
  for (const op of serviceOperations) {
    if (op.side !== side) continue;
    const path = `${PREFIX[side]}${op.path}`;
    paths[path] = { ...(paths[path] ?? {}), [op.method]: serviceOperationItem(ctx, op) };
  }

  if (side === 'front' && options.identityMode === 'oidc') Object.assign(paths, signInPaths());

  let securitySchemes: Record<string, JsonSchema>;
  if (side === 'front') {
    securitySchemes = {
      sessionCookie: {
        type: 'apiKey',
        in: 'cookie',
        name: options.sessionCookieName ?? 'miles.sid',
        description: 'The session cookie set at connect (HttpOnly). Non-GET requests also need `X-CSRF: 1`.',
      },
      sessionToken: {
        type: 'http',
        scheme: 'bearer',
        description: 'Mobile apps: the opaque session token from a connect with `X-Session-Transport: token`.',
      },
      ...(options.identityMode === 'jwt'
        ? { identityToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "The partner's own ID token, at connect only." } }
        : {}),
      ...(options.identityMode === 'oidc'
        ? { identityToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "A native app's ID token from the same OpenID Provider, at connect only, with OIDC_ACCEPT_ID_TOKENS." } }
        : {}),
    };
  } else {
    securitySchemes = {
      internalApiKey: {
        type: 'http',
        scheme: 'bearer',
        description: 'A key of `INTERNAL_API_KEYS`, as `Authorization: Bearer <key>`.',
      },
    };
  }

  const security = side === 'back' ? [{ internalApiKey: [] }] : undefined;
  const pkg = servicePackage();
  return {
    openapi: '3.1.0',
    info: {
      title: side === 'front' ? 'miles-bff public API' : 'miles-bff internal API',
      version: options.version ?? pkg.version,
      license: licenseOf(pkg.license),
      description:
        side === 'front'
          ? "The app's miles front-end endpoints, proxied with a server-side session. Business answers are the upstream envelope; errors of the service are problem+json."
          : "The app's miles back-end endpoints for partner services, on the internal listener only, signed with the back-end token this service keeps. Business answers are the upstream envelope; errors of the service are problem+json.",
    },
    servers: [SERVERS[side]],
    ...(security ? { security } : {}),
    paths,
    components: usedComponents({ paths, security }, { schemas, parameters, securitySchemes }),
  };
}

/**
 * `IDENTITY_MODE=oidc`: the sign-in navigations and the provider's back-channel logout. They answer
 * redirects (a refused sign-in lands on `/?signin_error=<reason>`), not JSON.
 */
function signInPaths(): Record<string, Record<string, JsonSchema>> {
  const redirect = (description: string): JsonSchema => ({ description, headers: { Location: { schema: { type: 'string' } } } });
  const navigation = (operationId: string, summary: string, parameters: JsonSchema[], found: string): Record<string, JsonSchema> => ({
    get: { operationId, summary, tags: ['sign-in'], security: [{}], parameters, responses: { 302: redirect(found), 405: problem('Another method than GET.'), 429: problem('Rate limited; see Retry-After.'), default: problem('Any other error of the service.') } },
  });
  const query = (name: string, description: string): JsonSchema => ({ name, in: 'query', required: false, description, schema: { type: 'string' } });
  return {
    '/api/auth/login': navigation('signIn', 'Starts the OpenID Connect sign-in: a redirect to the provider (code flow, PKCE S256, state and nonce kept server-side).', [query('returnTo', 'A path of this site to land on afterwards; anything else is /.')], 'To the provider, or to /?signin_error=provider_unavailable.'),
    '/api/auth/callback': navigation('signInCallback', "The provider's redirect back: code exchange, ID token checks, then the connect; a redirect to returnTo.", [query('code', 'From the provider.'), query('state', 'From the provider.'), query('error', 'From the provider, when it refused.')], 'To returnTo with a new session cookie, or to /?signin_error=<reason> with no session.'),
    '/api/auth/logout': navigation('signOut', "Ends the user's sessions (with the upstream user/logout), then the provider session (RP-initiated logout).", [], "To the provider's end_session_endpoint, or to OIDC_POST_LOGOUT_REDIRECT_URL."),
    '/api/auth/backchannel-logout': {
      post: {
        operationId: 'backchannelLogout',
        summary: "OpenID Connect Back-Channel Logout 1.0: the provider's server call ending the sessions of a provider session (sid) or user (sub) on every replica.",
        tags: ['sign-in'],
        security: [{}],
        requestBody: {
          required: true,
          content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', required: ['logout_token'], properties: { logout_token: { type: 'string', description: "A logout token signed by the provider's keys." } } } } },
        },
        responses: { 200: { description: 'The sessions named have ended.' }, 400: problem('An invalid, replayed or missing logout token.'), 503: problem('The provider is not discovered yet, or the session store is unavailable; the provider may retry.'), default: problem('Any other error of the service.') },
      },
    },
  };
}

/** Paths are absolute (`/api/...`, `/internal/...`): the server is the origin that serves the document. */
const SERVERS: Record<Side, JsonSchema> = {
  front: { url: '/', description: "This service's public origin (PORT, behind the ingress), where this document is served at /api/openapi.json." },
  back: { url: '/', description: "This service's internal listener (INTERNAL_PORT, inside the cluster), where this document is served at /internal/openapi.json." },
};

/** Every `$ref` target and security scheme name reached from `root`, following references into `components`. */
function usedComponents(root: JsonSchema, all: OpenApiDocument['components']): OpenApiDocument['components'] {
  const used = { schemas: new Set<string>(), parameters: new Set<string>(), securitySchemes: new Set<string>() };
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const node = pending.pop();
    if (Array.isArray(node)) {
      pending.push(...node);
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') {
        const [, kind, name] = /^#\/components\/(schemas|parameters)\/(.+)$/.exec(value) ?? [];
        if (kind && name && !used[kind as 'schemas' | 'parameters'].has(name)) {
          used[kind as 'schemas' | 'parameters'].add(name);
          pending.push(all[kind as 'schemas' | 'parameters'][name]);
        }
      } else if (key === 'security' && Array.isArray(value)) {
        for (const requirement of value) for (const name of Object.keys(requirement as object)) used.securitySchemes.add(name);
      } else {
        pending.push(value);
      }
    }
  }
  const pick = (kind: keyof typeof used): Record<string, JsonSchema> =>
    Object.fromEntries(Object.entries(all[kind]).filter(([name]) => used[kind].has(name)));
  return { schemas: pick('schemas'), parameters: pick('parameters'), securitySchemes: pick('securitySchemes') };
}
