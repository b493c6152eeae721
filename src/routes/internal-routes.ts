import type { Request, Response } from 'express';
import { ServiceError } from '../errors';
import { sendAnswer } from '../http/answer';
import { inputOf, type Forwarding, type Listener } from '../http/forward';
import { requestContextOf } from '../http/request-context';
import type { Route } from '../http/router';
import type { Logger } from '../observability/logger';
import { buildOpenApiDocument } from '../openapi/document';
import { serviceOperation } from '../openapi/service-operations';
import type { Sessions } from '../session/sessions';
import { defineEndpoint, type Catalogue, type EndpointSpec } from '../upstream/catalogue';
import { JSON_TYPE, type HttpAnswer } from '../upstream/http-answer';

/** This build or deployment has no such feature (e.g. no response cache to purge). */
export class NotImplemented extends ServiceError {
  readonly code = 'ERR_NOT_IMPLEMENTED';
  readonly status = 501;
  readonly title = 'Not implemented';
}

export interface InternalRoutesDeps {
  readonly logger: Logger;
  readonly sessions: Pick<Sessions, 'revokeUser'>;
  readonly forwarding: Forwarding;
  /** The catalogue in force (`settings.catalogue`). */
  readonly catalogue: Catalogue;
  /** Empties the response cache; returns how many entries were dropped. Absent: no cache, purge is 501. */
  readonly purgeCache?: () => Promise<number>;
}

/**
 * The internal listener's forwarding: partner services, known by their key of
 * `INTERNAL_API_KEYS` (checked for all of `/internal` before resolution, app.ts).
 */
export const internalListener: Listener = { prefix: '/internal', side: 'back', callers: 'api-key', foldLanguage: false };

/** A pseudo-endpoint whose schema is a service operation's fields, for validation. */
function operationSchema(path: string): EndpointSpec {
  const op = serviceOperation('back', path);
  return defineEndpoint({ path, side: 'back', token: 'none', effect: 'mutation', fields: op.fields ?? {}, data: op.response, exposed: false, summary: op.summary });
}

function jsonAnswer(body: unknown): HttpAnswer {
  return { status: 200, body: JSON.stringify(body), contentType: JSON_TYPE };
}

/**
 * The `/internal` routes for partner services, generated from the catalogue: `POST
 * /internal/<path>` for every exposed back-end endpoint, forwarded by the one forwarding path
 * (http/forward.ts) signed with the shared back-end token; plus session revocation, cache purge
 * and the OpenAPI document. Mounted on the internal listener only.
 */
export function internalRoutes(deps: InternalRoutesDeps): Route[] {
  const { logger, sessions, forwarding, catalogue } = deps;
  const openApiText = JSON.stringify(buildOpenApiDocument('back', { endpoints: catalogue.back }));

  const revoke = async (req: Request, res: Response): Promise<void> => {
    const context = requestContextOf(res);
    const partnerClientId = String(inputOf(context).partnerClientId);
    const revoked = await sessions.revokeUser(partnerClientId, 'revoked');
    logger.info({ requestId: context.requestId, caller: context.callerKeyId, revoked }, 'sessions revoked');
    sendAnswer(req, res, jsonAnswer({ revoked }));
  };

  const purge = async (req: Request, res: Response): Promise<void> => {
    if (!deps.purgeCache) throw new NotImplemented('This service runs without a response cache; there is nothing to purge.');
    const context = requestContextOf(res);
    const purged = await deps.purgeCache();
    logger.info({ requestId: context.requestId, caller: context.callerKeyId, purged }, 'response cache purged');
    sendAnswer(req, res, jsonAnswer({ purged }));
  };

  const openApi = (req: Request, res: Response): void => {
    sendAnswer(req, res, { status: 200, body: openApiText, contentType: JSON_TYPE, headers: { 'Cache-Control': 'no-cache' } });
  };

  const routes: Route[] = catalogue.back.map((endpoint) => ({
    path: `/internal/${endpoint.path}`,
    methods: { POST: forwarding.steps(internalListener, endpoint, 'POST') },
  }));
  const own = (path: string, handler: (req: Request, res: Response) => Promise<void>): Route => ({
    path: `/internal/${path}`,
    methods: { POST: [forwarding.body, forwarding.validate(internalListener, operationSchema(path)), handler] },
  });
  routes.push(own('sessions/revoke', revoke), own('cache/purge', purge));
  routes.push({ path: '/internal/openapi.json', methods: { GET: [openApi] } });
  return routes;
}
