import express, { type RequestHandler, type Router } from 'express';
import type { Settings } from '../config/settings';
import { MethodNotAllowed, NotFound, ServiceError } from '../errors';
import { answerFromUpstream, JSON_TYPE, sendAnswer, type HttpAnswer } from '../http/answer';
import { wrap, type AsyncHandler } from '../http/async-handler';
import type { EarnResolution } from '../http/earn-resolution';
import { idempotencyKeyOf, requestFingerprint, type Idempotency } from '../http/idempotency';
import { internalAuth } from '../http/internal-auth';
import { jsonBody } from '../http/json-body';
import { traceparentOf } from '../http/request-id';
import { validateInput } from '../http/validation';
import { buildOpenApiDocument } from '../openapi/document';
import { serviceOperation } from '../openapi/service-operations';
import type { Logger } from '../observability/logger';
import type { Sessions } from '../session/sessions';
import type { BackendToken } from '../upstream/backend-token';
import { builtInCatalogue, defineEndpoint, type Catalogue, type EndpointSpec } from '../upstream/catalogue';
import { ErrorCode } from '../upstream/error-code';

/** This build or deployment has no such feature (e.g. no response cache to purge). */
export class NotImplemented extends ServiceError {
  readonly code = 'ERR_NOT_IMPLEMENTED';
  readonly status = 501;
  readonly title = 'Not implemented';
}

export interface InternalApiDeps {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly sessions: Sessions;
  readonly backendToken: BackendToken;
  /** Replays repeats of an `Idempotency-Key` on the idempotent back-end mutations. */
  readonly idempotency?: Idempotency;
  /** The catalogue in force (`settings.catalogue`); the built-in one by default. */
  readonly catalogue?: Catalogue;
  /** Settles a qualifying earn's unknown outcome on a same-key retry. */
  readonly earnResolution?: EarnResolution;
  /** Empties the response cache; returns how many entries were dropped. Absent: no cache, purge is 501. */
  readonly purgeCache?: () => Promise<number>;
}

/** How many users' sessions are revoked at once after a multidelete. */
const REVOKE_CONCURRENCY = 16;

/** A pseudo-endpoint whose schema is a service operation's fields, for `validateInput`. */
function operationSchema(path: string): EndpointSpec {
  const op = serviceOperation('back', path);
  return defineEndpoint({ path, side: 'back', token: 'none', effect: 'mutation', fields: op.fields ?? {}, data: op.response, exposed: false, summary: op.summary });
}

function jsonAnswer(body: unknown): HttpAnswer {
  return { status: 200, body: JSON.stringify(body), contentType: JSON_TYPE };
}

/**
 * The `/internal` routes for partner services, generated from the catalogue:
 * `POST /internal/<path>` for every exposed back-end endpoint, plus session
 * revocation, cache purge and the OpenAPI document. Every route needs a key
 * of `INTERNAL_API_KEYS` (checked before anything else, so an anonymous
 * caller learns nothing, not even which paths exist); then the route is
 * resolved, the body parsed and validated, and the call forwarded signed with
 * the back-end token. Mounted on the internal listener only.
 */
export function internalApiRouter(deps: InternalApiDeps): Router {
  const { settings, logger, sessions, backendToken } = deps;
  const router = express.Router({ caseSensitive: true, strict: true });
  const body = jsonBody();
  const catalogue = deps.catalogue ?? builtInCatalogue;
  const openApiText = JSON.stringify(buildOpenApiDocument('back', { endpoints: catalogue.back }));

  function validated(endpoint: EndpointSpec): RequestHandler {
    return (req, res, next) => {
      try {
        res.locals.input = validateInput(endpoint, req.body, 'body');
        next();
      } catch (err) {
        next(err);
      }
    };
  }

  /** Ends the sessions of every listed user, a few users at a time. */
  async function revokeAll(partnerClientIds: readonly string[]): Promise<number> {
    const unique = [...new Set(partnerClientIds)];
    let ended = 0;
    for (let i = 0; i < unique.length; i += REVOKE_CONCURRENCY) {
      const batch = unique.slice(i, i + REVOKE_CONCURRENCY);
      const counts = await Promise.all(batch.map((id) => sessions.revokeUser(id, 'user-deleted')));
      for (const n of counts) ended += n;
    }
    return ended;
  }

  function forward(endpoint: EndpointSpec): AsyncHandler {
    return async (req, res) => {
      const input = res.locals.input as Record<string, unknown>;
      const requestId = res.locals.requestId as string;
      const traceparent = traceparentOf(req.headers.traceparent);
      const exec = async (): Promise<HttpAnswer> => {
        const upstream = await backendToken.call({ endpoint, body: input, requestId, ...(traceparent ? { traceparent } : {}) });
        res.locals.upstreamErrorCode = upstream.errorCode;
        return answerFromUpstream(upstream);
      };

      let answer: HttpAnswer;
      const key = endpoint.idempotent ? idempotencyKeyOf(req.headers['idempotency-key']) : undefined;
      if (key !== undefined) {
        if (deps.idempotency) {
          // Scoped by caller key: two partner services never share a key space.
          const resolution = deps.earnResolution?.(endpoint, input, requestId);
          answer = await deps.idempotency.run(`k:${String(res.locals.callerKeyId)}`, key, requestFingerprint(endpoint.path, input), exec, requestId, resolution ? { resolution } : undefined);
        } else {
          answer = await exec();
        }
      } else {
        answer = await exec();
      }

      if (endpoint.sessionEffect === 'end-listed-users-sessions' && endpoint.usersField && answer.errorCode === ErrorCode.Ok) {
        // Every listed user: the deleted ones, and those the upstream no longer knew, whose tokens are dead anyway.
        const listed = input[endpoint.usersField] as string[];
        const ended = await revokeAll(listed);
        logger.info({ requestId, endpoint: endpoint.path, users: listed.length, sessions: ended }, 'sessions of deleted users ended');
      }
      sendAnswer(req, res, answer);
    };
  }

  const revoke: AsyncHandler = async (req, res) => {
    const { partnerClientId } = res.locals.input as { partnerClientId: string };
    const revoked = await sessions.revokeUser(partnerClientId, 'revoked');
    logger.info({ requestId: res.locals.requestId, caller: res.locals.callerKeyId, revoked }, 'sessions revoked');
    sendAnswer(req, res, jsonAnswer({ revoked }));
  };

  const purge: AsyncHandler = async (req, res) => {
    if (!deps.purgeCache) throw new NotImplemented('This service runs without a response cache; there is nothing to purge.');
    const purged = await deps.purgeCache();
    logger.info({ requestId: res.locals.requestId, caller: res.locals.callerKeyId, purged }, 'response cache purged');
    sendAnswer(req, res, jsonAnswer({ purged }));
  };

  const openApi: AsyncHandler = async (req, res) => {
    sendAnswer(req, res, { status: 200, body: openApiText, contentType: JSON_TYPE, headers: { 'Cache-Control': 'no-cache' } });
  };

  // Resolution after the key check: an unknown path is 404, a wrong method 405.
  const routes = new Map<string, { method: 'GET' | 'POST'; chain: RequestHandler[] }>();
  for (const endpoint of catalogue.back) {
    routes.set(`/${endpoint.path}`, { method: 'POST', chain: [body, validated(endpoint), wrap(forward(endpoint))] });
  }
  routes.set('/sessions/revoke', { method: 'POST', chain: [body, validated(operationSchema('sessions/revoke')), wrap(revoke)] });
  routes.set('/cache/purge', { method: 'POST', chain: [body, validated(operationSchema('cache/purge')), wrap(purge)] });
  routes.set('/openapi.json', { method: 'GET', chain: [wrap(openApi)] });

  const resolve: RequestHandler = (req, res, next) => {
    const route = routes.get(req.path);
    if (!route) {
      next(new NotFound(`No route ${req.method} /internal${req.path}.`));
      return;
    }
    const allowed = route.method === 'GET' ? ['GET', 'HEAD'] : ['POST'];
    if (!allowed.includes(req.method)) {
      res.setHeader('Allow', allowed.join(', '));
      next(new MethodNotAllowed(`${req.method} is not allowed on /internal${req.path}.`));
      return;
    }
    res.locals.route = `/internal${req.path}`;
    next();
  };

  router.use(internalAuth(settings.internalApiKeys), resolve);
  for (const [path, route] of routes) {
    if (route.method === 'GET') router.get(path, ...route.chain);
    else router.post(path, ...route.chain);
  }
  return router;
}
