import type { Request, RequestHandler, Response } from 'express';

export type AsyncHandler = (req: Request, res: Response) => Promise<void>;

/** An async route handler whose rejection reaches the one error handler. */
export const wrap =
  (fn: AsyncHandler): RequestHandler =>
  (req, res, next) => {
    fn(req, res).catch(next);
  };
