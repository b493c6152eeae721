import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * What the service knows about one request as it goes along, read by the access log, the
 * problem writer and the trace of the request: typed in one place, instead of `res.locals`
 * properties that each reader would cast.
 */
export interface RequestContext {
  /** The `X-Request-Id` of the request (the caller's when safe to echo, else made here). */
  readonly requestId: string;
  /** The route matched, as a template (`/api/gift/list`); undefined until one matched. */
  route: string | undefined;
  /** The validated input of a forwarded call, in the catalogue schema's types. */
  input: Readonly<Record<string, unknown>> | undefined;
  /** The upstream errorCode behind the answer, when there was one. */
  upstreamErrorCode: number | undefined;
  /** The code of the problem answered (`ERR_NOT_FOUND`), when the answer is one. */
  problemCode: string | undefined;
  /** The id of the `INTERNAL_API_KEYS` key that authenticated the call (never the key). */
  callerKeyId: string | undefined;
}

/** Keyed by the answer object: the context goes when the answer goes, and nothing is added to Express' objects. */
const contexts = new WeakMap<object, RequestContext>();

/** Starts the context of a request whose id is known (request-id.ts, first thing of every request). */
export function openRequestContext(res: ServerResponse, requestId: string): RequestContext {
  const context: RequestContext = { requestId, route: undefined, input: undefined, upstreamErrorCode: undefined, problemCode: undefined, callerKeyId: undefined };
  contexts.set(res, context);
  return context;
}

/**
 * The context of the request this answer is for. A handler mounted without the request-id step
 * (a test's own app) gets a context with an id of its own rather than none.
 *
 * @example
 * requestContextOf(res).route = '/api/gift/list';
 */
export function requestContextOf(res: ServerResponse): RequestContext {
  return contexts.get(res) ?? openRequestContext(res, randomUUID());
}

/**
 * The route template matched, for a trace's span name; undefined when none matched. Only reads:
 * the tracing hook also hands over objects that are not answers of ours.
 */
export function matchedRouteOf(res: ServerResponse | IncomingMessage): string | undefined {
  return contexts.get(res)?.route;
}
