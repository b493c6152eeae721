import type { Request, RequestHandler, Response } from 'express';
import type { Settings } from '../config/settings';
import { BadRequest } from '../errors';
import { sendAnswer } from '../http/answer';
import { browserGuard } from '../http/browser-guard';
import { inputOf, type Forwarding, type Listener } from '../http/forward';
import type { RateLimits } from '../http/rate-limits';
import { requestContextOf } from '../http/request-context';
import { traceparentOf } from '../http/request-id';
import type { Route } from '../http/router';
import type { Logger } from '../observability/logger';
import { createConnectUser } from '../session/connect-user';
import type { IdentitySource } from '../session/identity';
import type { Sessions } from '../session/sessions';
import type { Catalogue, EndpointSpec } from '../upstream/catalogue';
import type { UpstreamClient } from '../upstream/client';
import { ErrorCode } from '../upstream/error-code';
import { answerFromUpstream, JSON_TYPE } from '../upstream/http-answer';

export interface ApiRoutesDeps {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly sessions: Sessions;
  readonly identity: IdentitySource;
  readonly client: UpstreamClient;
  readonly forwarding: Forwarding;
  readonly rateLimits?: RateLimits;
  /** The catalogue in force (`settings.catalogue`). */
  readonly catalogue: Catalogue;
  /**
   * More routes under `/api` (the OpenAPI document…). A route without a `guard` of its own gets
   * the browser guard and the per-IP limit of every `/api` route.
   */
  readonly extraRoutes?: readonly Route[];
}

/** The public listener's forwarding: browsers and apps, known by their session. */
export function publicListener(settings: Settings, rateLimits: RateLimits = {}): Listener {
  const storable = new Set(settings.browserActions);
  return {
    prefix: '/api',
    side: 'front',
    callers: 'session',
    foldLanguage: true,
    ...(storable.has('*') ? {} : { storableActions: storable }),
    ...(rateLimits.mutation ? { mutationLimit: rateLimits.mutation } : {}),
  };
}

/**
 * The routes of `/api`, generated from the catalogue: one route per front-end endpoint (POST,
 * and GET for the reads) forwarded by the one forwarding path (http/forward.ts), the connect,
 * `GET /api/session`, the client's endpoint table, and the extra routes. Every route passes the
 * browser guard and the per-IP limit once resolved (router.ts), before its own steps.
 */
export function apiRoutes(deps: ApiRoutesDeps): Route[] {
  const { settings, sessions, client, identity, forwarding, catalogue } = deps;
  const limits = deps.rateLimits ?? {};
  const listener = publicListener(settings, limits);
  const perIp = limits.perIp ? [limits.perIp] : [];
  const guard: readonly RequestHandler[] = [browserGuard({ allowedOrigins: settings.allowedOrigins }), ...perIp];
  const connectGuard: readonly RequestHandler[] = [browserGuard({ allowedOrigins: settings.allowedOrigins, idTokenConnect: settings.identity.mode === 'jwt' || settings.identity.oidc?.acceptIdTokens === true }), ...perIp];

  // Connect: identity from IDENTITY_MODE; outside insecure-body the body only adds consent, language and the fields a catalogue file added.
  const connectEndpoint = catalogue.front.find((e) => e.sessionEffect === 'connect')!;
  const connectSchema: EndpointSpec = { ...connectEndpoint, schema: connectEndpoint.callerSchema };
  const connectUser = createConnectUser({ client, sessions, endpoint: connectEndpoint, logger: deps.logger });
  const connect = async (req: Request, res: Response): Promise<void> => {
    const context = requestContextOf(res);
    const input = inputOf(context);
    const transportHeader = req.headers['x-session-transport'];
    if (transportHeader !== undefined && transportHeader !== 'token' && transportHeader !== 'cookie') {
      throw new BadRequest('X-Session-Transport must be "token" or "cookie".');
    }
    const transport = transportHeader === 'token' ? 'token' : 'cookie';
    connectUser.checkTransport(req, transport, context.requestId);
    const who = await identity.resolve(req, input);
    const outcome = await connectUser.connect(req, res, { identity: who, fields: input, transport, requestId: context.requestId, traceparent: traceparentOf(req.headers.traceparent) });
    if (!outcome.connected) {
      sendAnswer(req, res, answerFromUpstream(outcome.upstream));
      return;
    }
    sendAnswer(req, res, { status: 200, body: JSON.stringify(outcome.envelope), contentType: JSON_TYPE, errorCode: ErrorCode.Ok });
  };

  const sessionInfo = async (req: Request, res: Response): Promise<void> => {
    const user = sessions.userOf(req);
    const body = user
      ? { connected: true, user: { partnerClientId: user.partnerClientId, email: user.email ?? null, firstName: user.firstName ?? null, lastName: user.lastName ?? null } }
      : { connected: false };
    sendAnswer(req, res, { status: 200, body: JSON.stringify(body), contentType: JSON_TYPE });
  };

  const endpointsText = JSON.stringify(clientEndpointTable(catalogue, settings.identity.mode === 'oidc'));
  const endpointTable: RequestHandler = (req, res) => {
    sendAnswer(req, res, { status: 200, body: endpointsText, contentType: JSON_TYPE, headers: { 'Cache-Control': 'no-cache' } });
  };

  const routes: Route[] = [];
  for (const endpoint of catalogue.front) {
    const methods = endpoint.allowGet ? (['GET', 'POST'] as const) : (['POST'] as const);
    if (endpoint === connectEndpoint) {
      const connectLimit = limits.connect ? [limits.connect] : [];
      routes.push({
        path: `/api/${endpoint.path}`,
        guard: connectGuard,
        methods: { POST: [forwarding.body, forwarding.validate(listener, connectSchema), ...connectLimit, sessions.load, connect] },
      });
      continue;
    }
    routes.push({
      path: `/api/${endpoint.path}`,
      guard,
      methods: Object.fromEntries(methods.map((method) => [method, forwarding.steps(listener, endpoint, method)])),
    });
  }
  routes.push({ path: '/api/session', guard, methods: { GET: [sessions.load, sessionInfo] } });
  routes.push({ path: '/api/endpoints.json', guard, methods: { GET: [endpointTable] } });
  for (const extra of deps.extraRoutes ?? []) routes.push(extra.guard ? extra : { ...extra, guard });
  return routes;
}

/**
 * The typed browser client's runtime table (`GET /api/endpoints.json`): every
 * `/api` route of the catalogue in force, with how to call it.
 */
export interface ClientEndpointTable {
  readonly endpoints: readonly { readonly path: string; readonly get: boolean; readonly idempotent: boolean; readonly session: boolean }[];
  /** `IDENTITY_MODE=oidc`: the sign-in and sign-out navigations, as paths under /api/. */
  readonly signIn?: { readonly login: string; readonly logout: string };
}

export function clientEndpointTable(catalogue: Catalogue, oidcSignIn = false): ClientEndpointTable {
  return {
    endpoints: catalogue.front.map((e) => ({ path: e.path, get: e.allowGet, idempotent: e.idempotent, session: e.needsSession })),
    ...(oidcSignIn ? { signIn: { login: 'auth/login', logout: 'auth/logout' } } : {}),
  };
}
