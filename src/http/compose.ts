import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** A middleware that does nothing: left out of the chains built with `chainOf`. */
export const passThrough: RequestHandler = (_req, _res, next) => next();

/** The handlers, without the pass-throughs (a switched-off feature costs no step). */
export function chainOf(...handlers: readonly RequestHandler[]): readonly RequestHandler[] {
  return handlers.filter((h) => h !== passThrough);
}

/**
 * Runs middleware in order as an Express route would: `next()` goes on, `next(err)` (or a
 * throw, or a rejected promise) ends the chain with `done(err)`, and the end of the chain
 * calls `done()`.
 */
export function runChain(chain: readonly RequestHandler[], req: Request, res: Response, done: NextFunction): void {
  let index = 0;
  const step = (err?: unknown): void => {
    if (err !== undefined && err !== null) {
      done(err);
      return;
    }
    const handler = chain[index++];
    if (handler === undefined) {
      done();
      return;
    }
    try {
      const result: unknown = handler(req, res, step);
      if (result instanceof Promise) result.catch((e: unknown) => step(e ?? new Error('Rejected promise')));
    } catch (e) {
      step(e ?? new Error('Thrown undefined'));
    }
  };
  step();
}

/**
 * Several middleware as one: one layer of Express' router instead of one each. Every layer costs
 * a path match, a `next` closure and a promise check per request; for the handful of middleware
 * every request passes through, that was a tenth of a cached read's CPU (docs/benchmarks.md).
 */
export function compose(...handlers: readonly RequestHandler[]): RequestHandler {
  const chain = chainOf(...handlers);
  return (req, res, next) => runChain(chain, req, res, next);
}
