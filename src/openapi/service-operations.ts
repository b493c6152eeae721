import type { Side } from '../upstream/catalogue';
import { fields, req, type FieldSet, type JsonSchema } from '../upstream/fields';

/**
 * The service's own routes, beside the catalogue's upstream endpoints: the
 * session probe, the documents and the client's endpoint table on `/api`, session revocation, cache purge
 * and the document on `/internal`. Declared once as data, like the catalogue:
 * the routers validate with `fields`, the OpenAPI documents describe them.
 */
export interface ServiceOperation {
  readonly side: Side;
  readonly method: 'get' | 'post';
  /** Path under the side's prefix (`/api/` or `/internal/`), without a leading slash. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  /** Request body fields of a POST (a strict object). */
  readonly fields?: FieldSet;
  /** JSON Schema of the 200 answer. */
  readonly response: JsonSchema;
  /** Reachable without a session (front) or without a key (back: never). */
  readonly anonymous?: boolean;
}

const openApiResponse: JsonSchema = {
  type: 'object',
  description: 'An OpenAPI 3.1 document.',
  required: ['openapi', 'info', 'paths'],
  properties: { openapi: { type: 'string' }, info: { type: 'object' }, paths: { type: 'object' } },
};

const operations: ServiceOperation[] = [
  {
    side: 'front',
    method: 'get',
    path: 'session',
    operationId: 'session',
    summary: 'Whether this browser or app has a connected session, and whose.',
    anonymous: true,
    response: {
      description: 'Anonymous: `{connected: false}` only; connected: who, as the identity gave it (absent fields are null).',
      oneOf: [
        {
          type: 'object',
          required: ['connected'],
          properties: { connected: { type: 'boolean', const: false } },
          additionalProperties: false,
        },
        {
          type: 'object',
          required: ['connected', 'user'],
          properties: {
            connected: { type: 'boolean', const: true },
            user: {
              type: 'object',
              required: ['partnerClientId', 'email', 'firstName', 'lastName'],
              properties: {
                partnerClientId: { type: 'string' },
                email: { type: ['string', 'null'] },
                firstName: { type: ['string', 'null'] },
                lastName: { type: ['string', 'null'] },
              },
            },
          },
        },
      ],
    },
  },
  {
    side: 'front',
    method: 'get',
    path: 'openapi.json',
    operationId: 'publicOpenApiDocument',
    summary: 'This document.',
    anonymous: true,
    response: openApiResponse,
  },
  {
    side: 'front',
    method: 'get',
    path: 'endpoints.json',
    operationId: 'endpointTable',
    summary: "The typed client's runtime table: every /api endpoint of the catalogue in force (APM_CATALOGUE_FILE applied), with how to call it.",
    anonymous: true,
    response: {
      type: 'object',
      required: ['endpoints'],
      properties: {
        endpoints: {
          type: 'array',
          items: {
            type: 'object',
            required: ['path', 'get', 'idempotent', 'session'],
            properties: {
              path: { type: 'string', description: 'Path under /api/.' },
              get: { type: 'boolean', description: 'Also answered on GET with query parameters.' },
              idempotent: { type: 'boolean', description: 'Accepts an Idempotency-Key.' },
              session: { type: 'boolean', description: 'Needs a connected session.' },
            },
          },
        },
        signIn: {
          type: 'object',
          description: 'Present when the service runs the OpenID Connect sign-in itself (IDENTITY_MODE=oidc).',
          required: ['login', 'logout'],
          properties: {
            login: { type: 'string', description: 'Path under /api/ of the sign-in navigation (GET, with returnTo: a path of this site).' },
            logout: { type: 'string', description: 'Path under /api/ of the sign-out navigation (GET): ends the session here and at the provider.' },
          },
        },
      },
    },
  },
  {
    side: 'back',
    method: 'post',
    path: 'sessions/revoke',
    operationId: 'revokeSessions',
    summary: "Ends every session of a user on every replica; the user's next request is 401.",
    fields: { partnerClientId: req(fields.partnerClientId) },
    response: {
      type: 'object',
      required: ['revoked'],
      properties: { revoked: { type: 'integer', minimum: 0, description: 'How many sessions were ended.' } },
    },
  },
  {
    side: 'back',
    method: 'post',
    path: 'cache/purge',
    operationId: 'purgeCache',
    summary: 'Empties the response cache (program and ads) shared by every replica.',
    fields: {},
    response: {
      type: 'object',
      required: ['purged'],
      properties: { purged: { type: 'integer', minimum: 0, description: 'How many cache entries were dropped.' } },
    },
  },
  {
    side: 'back',
    method: 'get',
    path: 'openapi.json',
    operationId: 'internalOpenApiDocument',
    summary: 'This document (behind the API key like the rest of /internal).',
    response: openApiResponse,
  },
];

export const serviceOperations: readonly ServiceOperation[] = Object.freeze(operations);

export function serviceOperation(side: Side, path: string): ServiceOperation {
  const found = serviceOperations.find((o) => o.side === side && o.path === path);
  if (!found) throw new Error(`No service operation ${side} ${path}`);
  return found;
}
