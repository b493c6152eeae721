import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { createHttpTransport, TransportError, type HttpTransport } from '../../../src/upstream/http-transport';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: http.Server;
let handler: Handler;
let baseUrl: string;
let transport: HttpTransport;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/2.0`;
  transport = createHttpTransport({ baseUrl, timeoutMs: 300, maxSockets: 4, maxAnswerBytes: 1024 });
});

afterAll(async () => {
  transport.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function failure(promise: Promise<unknown>): Promise<TransportError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TransportError);
  return err as TransportError;
}

describe('http transport', () => {
  it('POSTs the body bytes as given, with the given headers, under the base path', async () => {
    let seen: { url?: string; method?: string; headers?: http.IncomingHttpHeaders; body?: string } = {};
    handler = (req, res, body) => {
      seen = { url: req.url, method: req.method, headers: req.headers, body };
      res.writeHead(200, { 'Content-Type': 'application/json', Date: 'Tue, 01 Dec 2026 10:00:00 GMT' }).end('{"errorCode":0,"errorMsg":"ok"}');
    };
    const body = '{"lang":"fr","url":"https:\\/\\/x"}';
    const answer = await transport.post('partner/getprog', body, { 'Content-Type': 'application/json', 'X-Request-Id': 'r-1' });
    expect(answer).toEqual({ status: 200, text: '{"errorCode":0,"errorMsg":"ok"}', date: 'Tue, 01 Dec 2026 10:00:00 GMT' });
    expect(seen.url).toBe('/2.0/partner/getprog');
    expect(seen.method).toBe('POST');
    expect(seen.body).toBe(body);
    expect(seen.headers?.['x-request-id']).toBe('r-1');
    expect(seen.headers?.['content-length']).toBe(String(Buffer.byteLength(body)));
  });

  it('returns any status for the caller to judge, and keeps the connection alive', async () => {
    const ports = new Set<number>();
    handler = (req, res) => {
      ports.add(req.socket.remotePort ?? 0);
      // No Date header: the answer then has none either.
      res.sendDate = false;
      res.writeHead(503).end('down');
    };
    for (let i = 0; i < 3; i++) expect(await transport.post('a', '{}', {})).toEqual({ status: 503, text: 'down' });
    expect(ports.size).toBe(1);
  });

  it('decodes compressed answers and drops a UTF-8 BOM', async () => {
    handler = (_req, res) => res.writeHead(200, { 'Content-Encoding': 'gzip' }).end(zlib.gzipSync('\ufeff{"errorCode":0,"errorMsg":"é"}'));
    expect((await transport.post('a', '{}', {})).text).toBe('{"errorCode":0,"errorMsg":"é"}');
    handler = (_req, res) => res.writeHead(200, { 'Content-Encoding': 'br' }).end(zlib.brotliCompressSync('{"b":1}'));
    expect((await transport.post('a', '{}', {})).text).toBe('{"b":1}');
  });

  it('ETIMEDOUT past the timeout', async () => {
    handler = (_req, res) => setTimeout(() => res.end('late'), 600);
    expect((await failure(transport.post('a', '{}', {}))).code).toBe('ETIMEDOUT');
  });

  it('ERR_BAD_RESPONSE for an answer too large, cut short, or undecodable', async () => {
    handler = (_req, res) => res.end('x'.repeat(2000));
    expect((await failure(transport.post('a', '{}', {}))).code).toBe('ERR_BAD_RESPONSE');
    handler = (req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('{"errorCode":0');
      setTimeout(() => req.socket.destroy(), 20);
    };
    expect((await failure(transport.post('a', '{}', {}))).code).toBe('ERR_BAD_RESPONSE');
    handler = (_req, res) => res.writeHead(200, { 'Content-Encoding': 'gzip' }).end('not gzip');
    expect((await failure(transport.post('a', '{}', {}))).code).toBe('ERR_BAD_RESPONSE');
    // Small on the wire, over the limit once decoded: the limit is on the decoded bytes.
    handler = (_req, res) => res.writeHead(200, { 'Content-Encoding': 'gzip' }).end(zlib.gzipSync('x'.repeat(100_000)));
    expect((await failure(transport.post('a', '{}', {}))).code).toBe('ERR_BAD_RESPONSE');
    // A gzip stream cut short inside a complete HTTP body.
    handler = (_req, res) => res.writeHead(200, { 'Content-Encoding': 'gzip' }).end(zlib.gzipSync('{"errorCode":0}').subarray(0, 12));
    expect((await failure(transport.post('a', '{}', {}))).code).toBe('ERR_BAD_RESPONSE');
    // Still usable afterwards.
    handler = (_req, res) => res.end('{"ok":1}');
    expect((await transport.post('a', '{}', {})).text).toBe('{"ok":1}');
  });

  it("the socket's own code when the connection is reset before an answer, or refused", async () => {
    handler = (req) => req.socket.destroy();
    expect((await failure(transport.post('a', '{}', {}))).code).toBe('ECONNRESET');
    const nowhere = createHttpTransport({ baseUrl: 'http://127.0.0.1:1/', timeoutMs: 1000, maxSockets: 1, maxAnswerBytes: 1024 });
    expect((await failure(nowhere.post('a', '{}', {}))).code).toBe('ECONNREFUSED');
    nowhere.close();
  });

  it('refuses a base URL that is not http(s)', () => {
    expect(() => createHttpTransport({ baseUrl: 'ftp://x/', timeoutMs: 1, maxSockets: 1, maxAnswerBytes: 1 })).toThrow(/not an http/);
  });
});
