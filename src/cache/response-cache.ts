import type { Request } from 'express';
import type { HttpAnswer } from '../http/answer';
import type { EndpointSpec } from '../upstream/catalogue';

/**
 * The response cache of the cacheable reads (program and ads). `serve` either
 * answers from the cache or calls `fetch` (once, whatever the concurrency)
 * and stores a successful answer. The answer carries `ETag` and
 * `Cache-Control`.
 */
export interface ResponseCache {
  serve(req: Request, endpoint: EndpointSpec, input: Readonly<Record<string, unknown>>, scope: string, fetch: () => Promise<HttpAnswer>): Promise<HttpAnswer>;
  /** Empties the cache; returns how many entries were dropped. */
  purge(): Promise<number>;
}
