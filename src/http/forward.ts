import type { Request, RequestHandler, Response } from 'express';
import type { ResponseCache } from '../cache/response-cache';
import { Forbidden, Unauthenticated, UpstreamUnreadable } from '../errors';
import type { Logger } from '../observability/logger';
import type { Sessions } from '../session/sessions';
import type { BackendToken } from '../upstream/backend-token';
import type { EndpointSpec, Side } from '../upstream/catalogue';
import type { UpstreamAnswer, UpstreamCallInput, UpstreamClient } from '../upstream/client';
import { ErrorCode } from '../upstream/error-code';
import { answerFromUpstream, type HttpAnswer } from '../upstream/http-answer';
import { sendAnswer } from './answer';
import type { EarnResolution } from './earn-resolution';
import { idempotencyKeyOf, requestFingerprint, type Idempotency } from './idempotency';
import { jsonBody } from './json-body';
import { programLanguage } from './language';
import { requestContextOf, type RequestContext } from './request-context';
import { traceparentOf } from './request-id';
import type { RouteMethod } from './router';
import { validateInput } from './validation';

/**
 * What makes one listener's forwarding differ from the other's: data, read by the one pipeline
 * below. Everything else (which token signs a call, its cache policy, its idempotency, what it
 * does to sessions) is the endpoint's, in the catalogue.
 */
export interface Listener {
  /** `/api` (public listener) or `/internal` (internal listener): the prefix of its routes. */
  readonly prefix: '/api' | '/internal';
  /** The side of the catalogue it serves. */
  readonly side: Side;
  /**
   * How a caller is known. `session`: by its session (cookie or bearer token), loaded before the
   * body, 401 where the endpoint needs a user. `api-key`: by its key of `INTERNAL_API_KEYS`,
   * checked for the whole prefix before any route is resolved (router.ts `Area.before`).
   */
  readonly callers: 'session' | 'api-key';
  /** `lang` folded to `PROGRAM_LANGUAGES` (language.ts): browsers send any language tag. */
  readonly foldLanguage: boolean;
  /** The actions a caller may store with `generosity/store` (`BROWSER_ACTIONS`); absent: any. */
  readonly storableActions?: ReadonlySet<string>;
  /** The per-session limit of mutations (rate-limits.ts); absent: none. */
  readonly mutationLimit?: RequestHandler;
}

/** The stages of a forwarded call, in the order they run. */
export type Stage = 'session' | 'body' | 'validate' | 'mutation-limit' | 'relay';

/**
 * The stages of one endpoint's route for one method. The caller's session comes before the body
 * (an anonymous caller gets 401 whatever it sent, and learns nothing of the schema), validation
 * before the limit of mutations (a refused body spends none), the relay last: it picks the
 * credential (the user's token, the shared back-end token, or none), serves from the cache or the
 * idempotency record or the upstream, applies the endpoint's session effect and answers.
 */
export function pipelineOf(listener: Listener, endpoint: EndpointSpec, method: RouteMethod): readonly Stage[] {
  const stages: Stage[] = [];
  const needsUser = listener.callers === 'session' && endpoint.needsSession;
  if (needsUser) stages.push('session');
  if (method === 'POST') stages.push('body');
  stages.push('validate');
  if (needsUser && endpoint.effect === 'mutation' && listener.mutationLimit) stages.push('mutation-limit');
  stages.push('relay');
  return stages;
}

export interface ForwardingDeps {
  readonly logger: Logger;
  readonly sessions: Sessions;
  readonly client: UpstreamClient;
  /** Signs the endpoints whose token is the back-end token; required when a route forwards one. */
  readonly backendToken?: BackendToken;
  readonly cache?: ResponseCache;
  /** Whether the ads are cached per user (`CACHE_SCOPE_ADS=user`). */
  readonly adsScopedByUser?: boolean;
  readonly idempotency?: Idempotency;
  /** Settles a qualifying earn's unknown outcome on a same-key retry. */
  readonly earnResolution?: EarnResolution;
  /** `PROGRAM_LANGUAGES`, for listeners that fold `lang`. */
  readonly programLanguages: readonly string[];
}

export interface Forwarding {
  /** The steps of one endpoint's route for one method, as `pipelineOf` names them. */
  steps(listener: Listener, endpoint: EndpointSpec, method: RouteMethod): RequestHandler[];
  /** The request body step (JSON only, 16 KiB, empty is `{}`), for the service's own operations too. */
  readonly body: RequestHandler;
  /** Loads the caller's session and refuses a caller without a connected user (401). */
  readonly session: readonly RequestHandler[];
  /** Checks the body (or a GET's query) against `endpoint`'s schema into the request context's `input`. */
  validate(listener: Listener, endpoint: EndpointSpec): RequestHandler;
}

/** How many users' sessions are ended at once after a multidelete. */
const REVOKE_CONCURRENCY = 16;

/** The validated input of the request; the pipeline validates before it relays. */
export function inputOf(context: RequestContext): Readonly<Record<string, unknown>> {
  if (context.input === undefined) throw new Error('No validated input: the validate step must run before this one.');
  return context.input;
}

/**
 * The one forwarding path of both listeners (see `pipelineOf` for its order). Built once at
 * start-up; per request it only runs the steps it built.
 *
 * @example
 * const forwarding = createForwarding({ logger, sessions, client, backendToken, cache, idempotency, programLanguages });
 * router.post('/api/gift/list', ...forwarding.steps(publicListener, endpoint('gift/list'), 'POST'));
 */
export function createForwarding(deps: ForwardingDeps): Forwarding {
  const { logger, sessions, client } = deps;
  const body = jsonBody();
  const languageOf = programLanguage(deps.programLanguages);

  const requireUser: RequestHandler = (req, _res, next) => {
    if (!sessions.userOf(req)) next(new Unauthenticated('Connect first: this route needs a connected session.'));
    else next();
  };
  const session: readonly RequestHandler[] = [sessions.load, requireUser];

  function validate(listener: Listener, endpoint: EndpointSpec): RequestHandler {
    const foldLanguage = listener.foldLanguage && Object.prototype.hasOwnProperty.call(endpoint.fields, 'lang');
    return (req, res, next) => {
      const fromQuery = req.method === 'GET' || req.method === 'HEAD';
      const input = validateInput(endpoint, fromQuery ? req.query : req.body, fromQuery ? 'query' : 'body');
      if (foldLanguage && typeof input.lang === 'string') {
        const lang = languageOf(input.lang);
        if (lang === undefined) delete input.lang;
        else input.lang = lang;
      }
      requestContextOf(res).input = input;
      next();
    };
  }

  /** Who the idempotency records of a call belong to: the user (`/api`) or the calling partner service (`/internal`). */
  function callerScope(listener: Listener, req: Request, context: RequestContext): string {
    return listener.callers === 'api-key' ? `k:${context.callerKeyId ?? ''}` : `u:${sessions.userOf(req)?.partnerClientId ?? ''}`;
  }

  /** No credential of the user's may leave in an answer, whatever the upstream sent. */
  function guardLeak(upstream: UpstreamAnswer, userToken: string | undefined, path: string): void {
    if (userToken && upstream.text.includes(userToken)) {
      throw new UpstreamUnreadable(`Upstream answer to ${path} held a credential; not passed on`, path);
    }
  }

  async function endAfterRefusal(req: Request, res: Response): Promise<never> {
    await sessions.endCurrent(req, res, 'upstream-refused');
    throw new Unauthenticated('The session has ended: the upstream no longer accepts it. Connect again.', {
      extra: { upstreamErrorCode: ErrorCode.UserNotConnected, errorCode: ErrorCode.UserNotConnected, errorMsg: 'user not connected' },
    });
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

  /** What a successful call does to the sessions this service holds (the endpoint's `sessionEffect`). */
  async function applySessionEffect(endpoint: EndpointSpec, req: Request, res: Response, input: Readonly<Record<string, unknown>>, requestId: string): Promise<void> {
    if (endpoint.sessionEffect === 'end-user-sessions') {
      const user = sessions.userOf(req);
      if (!user) return;
      const reason = endpoint.sessionEnd ?? 'logout';
      await sessions.endCurrent(req, res, reason);
      await sessions.revokeUser(user.partnerClientId, reason);
    } else if (endpoint.sessionEffect === 'end-listed-users-sessions' && endpoint.usersField) {
      // Every listed user: the deleted ones, and those the upstream no longer knew, whose tokens are dead anyway.
      const listed = input[endpoint.usersField] as readonly string[];
      const ended = await revokeAll(listed);
      logger.info({ requestId, endpoint: endpoint.path, users: listed.length, sessions: ended }, 'sessions of deleted users ended');
    }
  }

  function relay(listener: Listener, endpoint: EndpointSpec): RequestHandler {
    const backendToken = deps.backendToken;
    if (endpoint.token === 'backend' && !backendToken) {
      throw new Error(`${endpoint.path} is signed with the back-end token, and no backendToken was given`);
    }
    const earn = endpoint.earn;
    const storable = earn ? listener.storableActions : undefined;
    const cache = endpoint.cache !== 'none' ? deps.cache : undefined;
    const adsByUser = endpoint.cache === 'ads' && deps.adsScopedByUser === true;
    const idempotency = endpoint.idempotent ? deps.idempotency : undefined;

    return async (req, res) => {
      const context = requestContextOf(res);
      const input = inputOf(context);
      const { requestId } = context;

      // The credential the call is signed with: the user's token, the shared back-end token, or none.
      let userToken: string | undefined;
      if (endpoint.token === 'user') {
        userToken = sessions.userTokenOf(req);
        if (!userToken) throw new Unauthenticated('Connect first: this route needs a connected session.');
      }
      if (earn && storable && !storable.has(String(input[earn.actionField]))) {
        throw new Forbidden(`Action "${String(input[earn.actionField])}" cannot be stored from a browser.`);
      }
      const traceparent = traceparentOf(req.headers.traceparent);
      const call: Omit<UpstreamCallInput, 'sub'> = { endpoint, body: input, requestId, ...(traceparent ? { traceparent } : {}) };
      const exec = async (): Promise<HttpAnswer> => {
        const upstream = backendToken && endpoint.token === 'backend' ? await backendToken.call(call) : await client.call({ ...call, sub: userToken ?? '' });
        context.upstreamErrorCode = upstream.errorCode;
        guardLeak(upstream, userToken, endpoint.path);
        if (upstream.errorCode === ErrorCode.UserNotConnected && endpoint.token === 'user') await endAfterRefusal(req, res);
        return answerFromUpstream(upstream);
      };

      let answer: HttpAnswer;
      const key = endpoint.idempotent ? idempotencyKeyOf(req.headers['idempotency-key']) : undefined;
      if (cache) {
        const scope = adsByUser ? (sessions.userOf(req)?.partnerClientId ?? '') : '';
        answer = await cache.serve(endpoint, input, scope, exec);
      } else if (key !== undefined && idempotency) {
        const resolution = deps.earnResolution?.(endpoint, input, requestId);
        answer = await idempotency.run(callerScope(listener, req, context), key, requestFingerprint(endpoint.path, input), exec, requestId, resolution ? { resolution } : undefined);
      } else {
        answer = await exec();
      }

      if (answer.errorCode === ErrorCode.Ok) await applySessionEffect(endpoint, req, res, input, requestId);
      sendAnswer(req, res, answer);
    };
  }

  function steps(listener: Listener, endpoint: EndpointSpec, method: RouteMethod): RequestHandler[] {
    const handlers: Record<Stage, () => readonly RequestHandler[]> = {
      session: () => session,
      body: () => [body],
      validate: () => [validate(listener, endpoint)],
      'mutation-limit': () => (listener.mutationLimit ? [listener.mutationLimit] : []),
      relay: () => [relay(listener, endpoint)],
    };
    return pipelineOf(listener, endpoint, method).flatMap((stage) => handlers[stage]());
  }

  return { steps, body, session, validate };
}
