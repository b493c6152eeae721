import express, { type RequestHandler, type Router } from 'express';
import { MethodNotAllowed, NotFound } from '../errors';
import { requestContextOf } from './request-context';

export type RouteMethod = 'GET' | 'POST';

/**
 * One route of a listener, as data: the routers of both listeners are built from lists of these
 * (routes/api-routes.ts, routes/internal-routes.ts, routes/probes.ts).
 */
export interface Route {
  /**
   * The full path, matched exactly and case-sensitively (`/api/gift/list`); also the route's
   * name in the access log, the metrics and the traces.
   */
  readonly path: string;
  /** The steps of each method, in order; GET answers HEAD too. Any other method is 405 with `Allow`. */
  readonly methods: Readonly<Partial<Record<RouteMethod, readonly RequestHandler[]>>>;
  /** `false`: HEAD is a wrong method here, not a GET without its body (a GET that starts or spends something). */
  readonly head?: false;
  /**
   * Steps that run once the route is resolved, before the method's own: `/api`'s browser guard
   * and per-IP limit. With a guard, OPTIONS (a CORS preflight) runs the guard alone, which
   * answers it; without one, OPTIONS is a wrong method like any other.
   */
  readonly guard?: readonly RequestHandler[];
}

/** A path prefix a listener owns: a path under it that no route has is 404 there, before anything else. */
export interface Area {
  /** `/api`, `/internal`. */
  readonly prefix: string;
  /**
   * Steps for every request under the prefix, before its route is resolved: `/internal`'s key
   * check, so that an anonymous caller learns nothing, not even which paths exist.
   */
  readonly before?: readonly RequestHandler[];
}

/** What a route path may hold: the catalogue's paths and the service's own; nothing path-to-regexp would read as syntax. */
const ROUTE_PATH = /^(\/[A-Za-z0-9_.-]+)+$/;

/** The `Allow` header of a route: its methods, GET with its HEAD. */
export function allowOf(route: Route): string {
  const allowed: string[] = [];
  if (route.methods.GET) allowed.push(...(route.head === false ? ['GET'] : ['GET', 'HEAD']));
  if (route.methods.POST) allowed.push('POST');
  return allowed.join(', ');
}

/**
 * A listener's router, on Express' own: routing comes first, so an unknown path under an area
 * is 404 and a wrong method 405 with `Allow` before any guard, session or body is looked at.
 * Each route records its path in the request context as it is entered. Everything is checked
 * and built here, at start-up: a request only walks the router.
 *
 * @example
 * app.use(listenerRouter([{ prefix: '/api' }], [{ path: '/api/session', methods: { GET: [sessionInfo] } }]));
 */
export function listenerRouter(areas: readonly Area[], routes: readonly Route[]): Router {
  const router = express.Router({ caseSensitive: true, strict: true });
  for (const area of areas) {
    if (!ROUTE_PATH.test(area.prefix)) throw new Error(`listenerRouter: "${area.prefix}" is not a plain path prefix`);
    if (area.before && area.before.length > 0) router.use(area.prefix, ...area.before);
  }
  const seen = new Set<string>();
  for (const route of routes) {
    if (!ROUTE_PATH.test(route.path)) throw new Error(`listenerRouter: "${route.path}" is not a plain path`);
    if (seen.has(route.path)) throw new Error(`listenerRouter: two routes for ${route.path}`);
    seen.add(route.path);
    const allow = allowOf(route);
    if (allow === '') throw new Error(`listenerRouter: ${route.path} has no method`);
    for (const [method, steps] of Object.entries(route.methods)) {
      if (steps.length === 0) throw new Error(`listenerRouter: ${route.path} has no step for ${method}`);
    }
    const guard = route.guard ?? [];
    const path = route.path;
    const enter: RequestHandler = (_req, res, next) => {
      requestContextOf(res).route = path;
      next();
    };
    const wrongMethod: RequestHandler = (req, res, next) => {
      res.setHeader('Allow', allow);
      next(new MethodNotAllowed(`${req.method} is not allowed on ${path}.`));
    };
    const layer = router.route(path).all(enter);
    if (route.head === false) layer.head(wrongMethod);
    if (route.methods.GET) layer.get(...guard, ...route.methods.GET);
    if (route.methods.POST) layer.post(...guard, ...route.methods.POST);
    // A guard answers a preflight only when it is more than a limit: a route whose guard lets OPTIONS through gets 405.
    if (guard.length > 0) layer.options(...guard);
    layer.all(wrongMethod);
  }
  for (const area of areas) {
    router.use(area.prefix, (req, _res, next) => next(new NotFound(`No route ${req.method} ${req.originalUrl.split('?', 1)[0]}.`)));
  }
  return router;
}
