import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { errorHandler } from '../../src/http/problem';
import { createLogger } from '../../src/observability/logger';

/**
 * A tiny real Express app around the middleware under test, on an ephemeral port: requests go
 * over real HTTP, errors end in the service's own problem+json handler, and a request that gets
 * through every middleware is answered 200 with what the app saw (`reached`, the parsed body).
 */
export interface MiddlewareApp {
  readonly url: string;
  /** How many requests got through every middleware to the final handler. */
  readonly reached: () => number;
  request(method: string, path: string, options?: { readonly headers?: Record<string, string>; readonly body?: string | Buffer }): Promise<RawAnswer>;
  close(): Promise<void>;
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

function send(url: string, method: string, headers: Record<string, string>, body: string | Buffer | undefined): Promise<RawAnswer> {
  // node:http rather than fetch: it sends Origin, Sec-Fetch-Site and Cookie as given, and adds nothing of its own.
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function startMiddlewareApp(middleware: readonly RequestHandler[]): Promise<MiddlewareApp> {
  const app = express();
  let reached = 0;
  app.use(...middleware);
  app.use((req, res) => {
    reached += 1;
    res.json({ reached: true, body: req.body as unknown });
  });
  app.use(errorHandler(createLogger({ level: 'silent' })));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    reached: () => reached,
    request: (method, path, options = {}) => send(`${url}${path}`, method, { ...options.headers }, options.body),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
