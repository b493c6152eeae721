import http from 'node:http';
import https from 'node:https';
import axios, { AxiosError } from 'axios';

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
}

export interface HttpTransport {
  /** POSTs `body` (sent as is) with exactly `headers` (plus Content-Length, User-Agent, Accept-Encoding). */
  post(path: string, body: string, headers: Readonly<Record<string, string>>): Promise<HttpAnswerText>;
  close(): void;
}

/**
 * The upstream's HTTP exchanges on axios with one keep-alive agent per
 * scheme: one overall timeout, no redirects, no proxy from the environment,
 * compressed answers decoded, a size limit, the body sent as the exact signed
 * bytes, the answer as UTF-8 text without a BOM, any status returned (the
 * caller judges it). Failures become `TransportError`s with stable codes.
 *
 * @example
 * const transport = createHttpTransport({ baseUrl: 'http://127.0.0.1:8787/2.0/', timeoutMs: 5000, maxSockets: 256, maxAnswerBytes: 8 << 20 });
 * const { status, text } = await transport.post('partner/getprog', body, signedHeaders);
 */
export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`createHttpTransport: ${options.baseUrl} is not an http(s) URL`);
  const agentOptions = {
    keepAlive: true,
    keepAliveMsecs: 60_000,
    maxSockets: options.maxSockets,
    maxFreeSockets: Math.min(64, options.maxSockets),
    scheduling: 'lifo' as const,
  };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  const baseURL = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
  const client = axios.create({
    baseURL,
    timeout: options.timeoutMs,
    httpAgent,
    httpsAgent,
    proxy: false,
    maxRedirects: 0,
    decompress: true,
    responseType: 'arraybuffer',
    maxContentLength: options.maxAnswerBytes,
    // The body is already the exact signed bytes: axios must not touch it.
    transformRequest: [(data: unknown) => data],
    transformResponse: [(data: unknown) => data],
    validateStatus: () => true,
  });

  function transportError(err: unknown): TransportError {
    if (err instanceof AxiosError) {
      const code = err.code ?? 'ERR_NETWORK';
      if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') return new TransportError(`no answer within ${options.timeoutMs} ms`, 'ETIMEDOUT', { cause: err });
      if (code === 'ERR_BAD_RESPONSE' || code === 'ERR_FR_MAX_BODY_LENGTH_EXCEEDED' || code.startsWith('Z_') || /maxContentLength|decompress/i.test(err.message)) {
        return new TransportError(`answer could not be read: ${err.message}`, 'ERR_BAD_RESPONSE', { cause: err });
      }
      return new TransportError(err.message, code, { cause: err });
    }
    return new TransportError((err as Error)?.message ?? 'network error', 'ERR_NETWORK', { cause: err });
  }

  async function post(path: string, body: string, headers: Readonly<Record<string, string>>): Promise<HttpAnswerText> {
    try {
      const res = await client.post<ArrayBuffer>(path.startsWith('/') ? path.slice(1) : path, body, {
        headers: { ...headers, 'User-Agent': 'miles-bff', 'Accept-Encoding': 'gzip, deflate, br' },
      });
      const text = Buffer.from(res.data).toString('utf8');
      return { status: res.status, text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
    } catch (err) {
      throw transportError(err);
    }
  }

  return {
    post,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
