import type { Request, RequestHandler, Response } from 'express';
import { chainOf, passThrough, runChain } from '../http/compose';
import type { ResponseCache } from '../cache/response-cache';
import type { Settings } from '../config/settings';
import { BadRequest, Forbidden, MethodNotAllowed, NotFound, Unauthenticated, UpstreamUnreadable } from '../errors';
import { answerFromUpstream, JSON_TYPE, sendAnswer, type HttpAnswer } from '../http/answer';
import { browserGuard } from '../http/browser-guard';
import { wrap, type AsyncHandler } from '../http/async-handler';
import type { EarnResolution } from '../http/earn-resolution';
import { idempotencyKeyOf, requestFingerprint, type Idempotency } from '../http/idempotency';
import { jsonBody } from '../http/json-body';
import { programLanguage } from '../http/language';
import { traceparentOf } from '../http/request-id';
import { validateInput } from '../http/validation';
import type { Logger } from '../observability/logger';
import { createConnectUser } from '../session/connect-user';
import type { IdentitySource } from '../session/identity';
import type { Sessions } from '../session/sessions';
import type { BackendToken } from '../upstream/backend-token';
import { builtInCatalogue, type Catalogue, type EndpointSpec } from '../upstream/catalogue';
import type { UpstreamAnswer, UpstreamClient } from '../upstream/client';
import { ErrorCode } from '../upstream/error-code';

export interface RateLimits {
  /** Every /api request, per client IP. */
  readonly perIp: RequestHandler;
  /** Connects, per client IP. */
  readonly connect: RequestHandler;
  /** Mutations, per session. */
  readonly mutation: RequestHandler;
}

export interface PublicApiDeps {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly sessions: Sessions;
  readonly identity: IdentitySource;
  readonly client: UpstreamClient;
  readonly cache?: ResponseCache;
  readonly idempotency?: Idempotency;
  /** Settles a qualifying earn's unknown outcome on a same-key retry. */
  readonly earnResolution?: EarnResolution;
  readonly rateLimits?: RateLimits;
  /** The catalogue in force (`settings.catalogue`); the built-in one by default. */
  readonly catalogue?: Catalogue;
  /** Signs the front-end endpoints that a catalogue file exposed with the back-end token. */
  readonly backendToken?: BackendToken;
  /** Extra GET routes under /api (e.g. the OpenAPI document). */
  readonly extraGetRoutes?: Readonly<Record<string, RequestHandler>>;
}


/**
 * The `/api` routes, generated from the catalogue: one route per front-end
 * endpoint (POST, and GET for the reads), plus `GET /api/session`. Every
 * route is resolved first (unknown paths are 404 whatever else the request
 * holds), then guarded, rate-limited, given its session (401 without one
 * where it needs one), then parsed, validated and forwarded.
 */
export function publicApi(deps: PublicApiDeps): RequestHandler {
  const { settings, sessions, client, identity } = deps;
  const catalogue = deps.catalogue ?? builtInCatalogue;
  const signedWithBackendToken = catalogue.front.filter((e) => e.token === 'backend').map((e) => e.path);
  if (signedWithBackendToken.length > 0 && !deps.backendToken) {
    throw new Error(`publicApi: ${signedWithBackendToken.join(', ')} ${signedWithBackendToken.length > 1 ? 'are' : 'is'} signed with the back-end token, and no backendToken was given`);
  }
  const connectRoute = `/api/${catalogue.front.find((e) => e.sessionEffect === 'connect')!.path}`;
  const guard = browserGuard({ allowedOrigins: settings.allowedOrigins, idTokenRoute: settings.identity.mode === 'jwt' || settings.identity.oidc?.acceptIdTokens ? connectRoute : undefined });
  const body = jsonBody();
  const limits = deps.rateLimits ?? { perIp: passThrough, connect: passThrough, mutation: passThrough };
  const browserActions = new Set(settings.browserActions);
  const allActions = browserActions.has('*');

  const requireSession: RequestHandler = (req, _res, next) => {
    if (!sessions.userOf(req)) next(new Unauthenticated('Connect first: this route needs a connected session.'));
    else next();
  };

  const languageOf = programLanguage(settings.programLanguages);

  function validated(endpoint: EndpointSpec): RequestHandler {
    const hasLang = Object.prototype.hasOwnProperty.call(endpoint.fields, 'lang');
    return (req, res, next) => {
      try {
        const input = validateInput(endpoint, req.method === 'GET' || req.method === 'HEAD' ? req.query : req.body, req.method === 'POST' ? 'body' : 'query');
        if (hasLang && typeof input.lang === 'string') {
          const lang = languageOf(input.lang);
          if (lang === undefined) delete input.lang;
          else input.lang = lang;
        }
        res.locals.input = input;
        next();
      } catch (err) {
        next(err);
      }
    };
  }

  async function endAfterRefusal(req: Request, res: Response): Promise<never> {
    await sessions.endCurrent(req, res, 'upstream-refused');
    throw new Unauthenticated('The session has ended: the upstream no longer accepts it. Connect again.', {
      extra: { upstreamErrorCode: ErrorCode.UserNotConnected, errorCode: ErrorCode.UserNotConnected, errorMsg: 'user not connected' },
    });
  }

  /** No credential of the user's may leave in an answer, whatever the upstream sent. */
  function guardLeak(upstream: UpstreamAnswer, userToken: string | undefined, path: string): void {
    if (userToken && upstream.text.includes(userToken)) {
      throw new UpstreamUnreadable(`Upstream answer to ${path} held a credential; not passed on`, path);
    }
  }

  function forward(endpoint: EndpointSpec): AsyncHandler {
    const earn = endpoint.earn;
    return async (req, res) => {
      const input = res.locals.input as Record<string, unknown>;
      const requestId = res.locals.requestId as string;
      let sub = '';
      let userToken: string | undefined;
      if (endpoint.token === 'user') {
        userToken = sessions.userTokenOf(req);
        if (!userToken) throw new Unauthenticated('Connect first: this route needs a connected session.');
        sub = userToken;
      }
      if (earn && !allActions && !browserActions.has(String(input[earn.actionField]))) {
        throw new Forbidden(`Action "${String(input[earn.actionField])}" cannot be stored from a browser.`);
      }
      const traceparent = traceparentOf(req.headers.traceparent);
      const exec = async (): Promise<HttpAnswer> => {
        const call = { endpoint, body: input, requestId, ...(traceparent ? { traceparent } : {}) };
        const upstream = endpoint.token === 'backend' ? await deps.backendToken!.call(call) : await client.call({ ...call, sub });
        res.locals.upstreamErrorCode = upstream.errorCode;
        guardLeak(upstream, userToken, endpoint.path);
        if (upstream.errorCode === ErrorCode.UserNotConnected && endpoint.token === 'user') await endAfterRefusal(req, res);
        return answerFromUpstream(upstream);
      };

      let answer: HttpAnswer;
      const key = endpoint.idempotent ? idempotencyKeyOf(req.headers['idempotency-key']) : undefined;
      if (endpoint.cache !== 'none' && deps.cache) {
        const scope = endpoint.cache === 'ads' && settings.cache.adsScope === 'user' ? (sessions.userOf(req)?.partnerClientId ?? '') : '';
        answer = await deps.cache.serve(req, endpoint, input, scope, exec);
      } else if (key !== undefined && deps.idempotency) {
        const user = sessions.userOf(req)?.partnerClientId ?? '';
        const resolution = deps.earnResolution?.(endpoint, input, requestId);
        answer = await deps.idempotency.run(`u:${user}`, key, requestFingerprint(endpoint.path, input), exec, requestId, resolution ? { resolution } : undefined);
      } else {
        answer = await exec();
      }

      if (endpoint.sessionEffect === 'end-user-sessions' && answer.errorCode === ErrorCode.Ok) {
        const user = sessions.userOf(req);
        const reason = endpoint.sessionEnd ?? 'logout';
        if (user) {
          await sessions.endCurrent(req, res, reason);
          await sessions.revokeUser(user.partnerClientId, reason);
        }
      }
      sendAnswer(req, res, answer);
    };
  }

  // Connect: identity from IDENTITY_MODE; outside insecure-body the body only adds consent, language and the fields a catalogue file added.
  const connectEndpoint = catalogue.front.find((e) => e.sessionEffect === 'connect')!;
  const connectPublic: EndpointSpec = { ...connectEndpoint, schema: connectEndpoint.callerSchema };
  const connectUser = createConnectUser({ client, sessions, endpoint: connectEndpoint, logger: deps.logger });
  const connect: AsyncHandler = async (req, res) => {
    const input = res.locals.input as Record<string, unknown>;
    const transportHeader = req.headers['x-session-transport'];
    if (transportHeader !== undefined && transportHeader !== 'token' && transportHeader !== 'cookie') {
      throw new BadRequest('X-Session-Transport must be "token" or "cookie".');
    }
    const transport = transportHeader === 'token' ? 'token' : 'cookie';
    const requestId = res.locals.requestId as string;
    connectUser.checkTransport(req, transport, requestId);
    const who = await identity.resolve(req, input);
    const outcome = await connectUser.connect(req, res, { identity: who, fields: input, transport, requestId, traceparent: traceparentOf(req.headers.traceparent) });
    if (!outcome.connected) {
      sendAnswer(req, res, answerFromUpstream(outcome.upstream));
      return;
    }
    sendAnswer(req, res, { status: 200, body: JSON.stringify(outcome.envelope), contentType: JSON_TYPE, errorCode: ErrorCode.Ok });
  };

  const sessionInfo: AsyncHandler = async (req, res) => {
    const user = sessions.userOf(req);
    const body = user
      ? { connected: true, user: { partnerClientId: user.partnerClientId, email: user.email ?? null, firstName: user.firstName ?? null, lastName: user.lastName ?? null } }
      : { connected: false };
    sendAnswer(req, res, { status: 200, body: JSON.stringify(body), contentType: JSON_TYPE });
  };

  // Resolution first: an unknown path is 404 before any guard or session is looked at.
  const routes = new Map<string, { methods: string[]; chain: (method: string) => RequestHandler[] }>();
  for (const endpoint of catalogue.front) {
    const isConnect = endpoint.sessionEffect === 'connect';
    const schemaEndpoint = isConnect ? connectPublic : endpoint;
    const needsSession = endpoint.needsSession;
    const methods = endpoint.allowGet ? ['GET', 'HEAD', 'POST'] : ['POST'];
    routes.set(`/${endpoint.path}`, {
      methods,
      // The session before the body: an anonymous caller gets 401 whatever it sent, and learns nothing of the schema.
      chain: (method) => [
        ...(needsSession ? [sessions.load, requireSession] : []),
        ...(method === 'POST' ? [body] : []),
        validated(schemaEndpoint),
        ...(isConnect ? [limits.connect, sessions.load] : []),
        ...(endpoint.effect === 'mutation' && needsSession ? [limits.mutation] : []),
        wrap(isConnect ? connect : forward(endpoint)),
      ],
    });
  }
  routes.set('/session', { methods: ['GET', 'HEAD'], chain: () => [sessions.load, wrap(sessionInfo)] });
  const endpointsText = JSON.stringify(clientEndpointTable(catalogue, settings.identity.mode === 'oidc'));
  const endpointTable: AsyncHandler = async (req, res) => {
    sendAnswer(req, res, { status: 200, body: endpointsText, contentType: JSON_TYPE, headers: { 'Cache-Control': 'no-cache' } });
  };
  routes.set('/endpoints.json', { methods: ['GET', 'HEAD'], chain: () => [wrap(endpointTable)] });
  for (const [path, handler] of Object.entries(deps.extraGetRoutes ?? {})) {
    routes.set(path, { methods: ['GET', 'HEAD'], chain: () => [handler] });
  }

  const resolve: RequestHandler = (req, res, next) => {
    const path = apiPathOf(req);
    const route = routes.get(path);
    if (!route) {
      next(new NotFound(`No route ${req.method} /api${path}.`));
      return;
    }
    if (req.method !== 'OPTIONS' && !route.methods.includes(req.method)) {
      res.setHeader('Allow', route.methods.join(', '));
      next(new MethodNotAllowed(`${req.method} is not allowed on /api${path}.`));
      return;
    }
    res.locals.route = `/api${path}`;
    next();
  };
  // Every chain is built here, once, and found per request with one Map lookup: Express' own
  // routing would test the path of each of the ~30 route layers in turn, and re-enter its
  // dispatch loop between them.
  const chains = new Map<string, readonly RequestHandler[]>();
  for (const [path, route] of routes) {
    for (const method of route.methods) {
      if (method !== 'HEAD') chains.set(`${method} ${path}`, chainOf(...route.chain(method)));
    }
  }
  const dispatch: RequestHandler = (req, res, next) => {
    const path = apiPathOf(req);
    const chain = chains.get(`${req.method === 'HEAD' ? 'GET' : req.method} ${path}`);
    if (chain) runChain(chain, req, res, next);
    else next(new NotFound(`No route ${req.method} /api${path}.`));
  };
  // The limits' pass-throughs when they are off are not steps of every request.
  const front = chainOf(resolve, guard, limits.perIp, dispatch);
  // Mounted at the root, not as an Express router under /api: a mount re-parses and rewrites the
  // URL on the way in and out of it, for every request.
  return (req, res, next) => {
    const path = req.path;
    if (path === '/api' || path.startsWith('/api/')) runChain(front, req, res, next);
    else next();
  };
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

/** The path under /api (`/gift/list`). */
function apiPathOf(req: Request): string {
  return req.path.slice(4);
}
