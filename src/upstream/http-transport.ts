import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { Axios, AxiosError, type AxiosAdapter, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';

/**
 * A failed exchange with the upstream, with a stable `code`: Node's own for
 * the socket (`ECONNRESET`, `ECONNREFUSED`, `EPIPE`, `ENOTFOUND`…), or
 * - `ETIMEDOUT`: no complete answer within the timeout;
 * - `ERR_BAD_RESPONSE`: an answer began but could not be read (cut short,
 *   larger than allowed, undecodable).
 * The client maps codes to `UpstreamTimeout`, `UpstreamUnreadable` or
 * `UpstreamUnreachable`, keeping this error as their `cause`.
 */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransportError';
  }
}

export interface HttpTransportOptions {
  /** The upstream base, e.g. `https://api.example.com/2.0/`; paths are relative to it. */
  readonly baseUrl: string;
  /** The whole exchange, connection to last byte. */
  readonly timeoutMs: number;
  readonly maxSockets: number;
  /** Larger answers (after decompression) are refused, `ERR_BAD_RESPONSE`. */
  readonly maxAnswerBytes: number;
}

export interface HttpAnswerText {
  readonly status: number;
  readonly text: string;
  /** The answer's `Date` header, the upstream's clock (the go-live check measures the skew with it). */
  readonly date?: string;
}

export interface HttpTransport {
  /** POSTs `body` (sent as is) with exactly `headers` (plus Content-Length, User-Agent, Accept-Encoding). */
  post(path: string, body: string, headers: Readonly<Record<string, string>>): Promise<HttpAnswerText>;
  close(): void;
}

const FIXED_HEADERS = { 'User-Agent': 'miles-bff', 'Accept-Encoding': 'gzip, deflate, br' } as const;

/**
 * The exact headers of one exchange, carried to the adapter in the request config as they are.
 * Not a plain object, so axios passes it through untouched: as `headers` it would normalise every
 * name against every other (the signed header names are already exact) for nothing.
 */
class ExactHeaders {
  constructor(readonly values: Readonly<Record<string, string | number>>) {}
}
type ExchangeConfig = InternalAxiosRequestConfig & { readonly exactHeaders?: ExactHeaders };

function decoderFor(encoding: string | undefined): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  switch (encoding?.trim().toLowerCase()) {
    case undefined:
    case '':
    case 'identity':
      return undefined;
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return undefined;
  }
}

/**
 * The upstream's HTTP exchanges, through an axios instance whose adapter is
 * a lean node:http one. axios' stock Node adapter spends 110–130 µs of CPU
 * per call on this API's small answers (config merging against every
 * default, redirect support, stream plumbing) where node:http itself
 * spends about 30; on the service's hot path that was a third of its CPU
 * (docs/benchmarks.md). The instance is built with only the options this
 * exchange uses, and the adapter does the rest:
 * one keep-alive agent per scheme, one overall timeout, no redirects, no
 * proxy from the environment, gzip/deflate/br answers decoded, a size limit
 * on the decoded answer, the body sent as the exact signed bytes, the answer
 * as UTF-8 text without a BOM, any status returned (the caller judges it).
 * Failures are `TransportError`s with stable codes.
 *
 * @example
 * const transport = createHttpTransport({ baseUrl: 'http://127.0.0.1:8787/2.0/', timeoutMs: 5000, maxSockets: 256, maxAnswerBytes: 8 << 20 });
 * const { status, text } = await transport.post('partner/getprog', body, signedHeaders);
 */
export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`createHttpTransport: ${options.baseUrl} is not an http(s) URL`);
  const secure = base.protocol === 'https:';
  const agentOptions = {
    keepAlive: true,
    keepAliveMsecs: 60_000,
    maxSockets: options.maxSockets,
    maxFreeSockets: Math.min(64, options.maxSockets),
    scheduling: 'lifo' as const,
  };
  const agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  const request = secure ? https.request : http.request;
  const basePath = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
  const target = { hostname: base.hostname.replace(/^\[|\]$/g, ''), port: base.port || (secure ? 443 : 80) };
  const { timeoutMs, maxAnswerBytes } = options;

  const adapter: AxiosAdapter = (config) =>
    new Promise<AxiosResponse<string>>((resolve, reject) => {
      const body = typeof config.data === 'string' ? config.data : '';
      const headers = { ...(config as ExchangeConfig).exactHeaders?.values, 'Content-Length': Buffer.byteLength(body) };
      let settled = false;
      const fail = (err: TransportError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const req = request({ ...target, agent, method: 'POST', path: `${basePath}${config.url ?? ''}`, headers });
      const timer = setTimeout(() => fail(new TransportError(`no answer within ${timeoutMs} ms`, 'ETIMEDOUT')), timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => fail(new TransportError(err.message, err.code ?? 'ERR_NETWORK', { cause: err })));
      req.on('response', (res: IncomingMessage) => {
        const unreadable = (why: string, cause?: unknown): void => fail(new TransportError(`answer could not be read: ${why}`, 'ERR_BAD_RESPONSE', { cause }));
        const declared = Number(res.headers['content-length']);
        const decoder = decoderFor(res.headers['content-encoding']);
        if (!decoder && declared > maxAnswerBytes) {
          unreadable(`${declared} bytes, over the ${maxAnswerBytes} allowed`);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        const stream: NodeJS.ReadableStream = decoder ? res.pipe(decoder) : res;
        stream.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxAnswerBytes) unreadable(`over the ${maxAnswerBytes} bytes allowed`);
          else chunks.push(chunk);
        });
        stream.on('error', (err: Error) => unreadable(err.message, err));
        res.on('aborted', () => unreadable('the connection closed before the end of the answer'));
        res.on('error', (err: Error) => unreadable(err.message, err));
        stream.on('end', () => {
          if (settled) return;
          if (!res.complete) {
            unreadable('the connection closed before the end of the answer');
            return;
          }
          settled = true;
          clearTimeout(timer);
          const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8');
          resolve({
            data: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text,
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            headers: res.headers as AxiosResponse['headers'],
            config,
            request: req,
          });
        });
      });
      req.end(body);
    });

  // The adapter alone: axios.create() would merge every request against all of axios' defaults
  // (timeout, redirects, proxy, limits are the adapter's own here).
  const client = new Axios({ adapter });

  function transportError(err: unknown): TransportError {
    if (err instanceof TransportError) return err;
    if (err instanceof AxiosError) return new TransportError(err.message, err.code ?? 'ERR_NETWORK', { cause: err });
    return new TransportError((err as Error)?.message ?? 'network error', 'ERR_NETWORK', { cause: err });
  }

  async function post(path: string, body: string, headers: Readonly<Record<string, string>>): Promise<HttpAnswerText> {
    try {
      const res = await client.request<string, AxiosResponse<string>, string>({
        method: 'post',
        url: path.startsWith('/') ? path.slice(1) : path,
        data: body,
        exactHeaders: new ExactHeaders({ ...headers, ...FIXED_HEADERS }),
      } as ExchangeConfig);
      const date: unknown = res.headers['date'];
      return typeof date === 'string' ? { status: res.status, text: res.data, date } : { status: res.status, text: res.data };
    } catch (err) {
      throw transportError(err);
    }
  }

  return {
    post,
    close() {
      agent.destroy();
    },
  };
}
