import http from 'node:http';

/**
 * A small HTTP client with a cookie jar, standing in for a browser or an app
 * in integration tests (real browsers are in test/e2e).
 */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly setCookies: string[];
}

export interface RequestOptions {
  readonly body?: unknown;
  /** Raw body text, sent as is. */
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
  /** Add `X-CSRF: 1` to non-GET requests (default true). */
  readonly csrf?: boolean;
  /** Send no cookie this time. */
  readonly noCookies?: boolean;
}

function viaNodeHttp(url: string, method: string, headers: Record<string, string>, body: string | undefined): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (Array.isArray(v)) for (const one of v) h.append(k, one);
          else if (v !== undefined) h.set(k, v);
        }
        const status = res.statusCode ?? 0;
        resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers: h }));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export class ApiClient {
  readonly cookies = new Map<string, string>();
  /** Mobile transport: sent as `Authorization: Bearer` when set. */
  bearer: string | undefined;

  constructor(readonly baseUrl: string) {}

  async request(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...options.headers };
    if (method !== 'GET' && method !== 'HEAD' && options.csrf !== false) headers['X-CSRF'] = '1';
    if (options.body !== undefined || options.rawBody !== undefined) headers['Content-Type'] ??= 'application/json';
    if (this.cookies.size && !options.noCookies) headers.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (this.bearer && !headers.Authorization) headers.Authorization = `Bearer ${this.bearer}`;
    const body = options.rawBody ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
    // fetch will not send a Host of our choosing; plain node:http will (a request as an ingress forwards it).
    const res = headers.Host ? await viaNodeHttp(`${this.baseUrl}${path}`, method, headers, body) : await fetch(`${this.baseUrl}${path}`, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    const setCookies = res.headers.getSetCookie();
    for (const c of setCookies) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=/i.test(a) && new Date(a.split('=')[1]!).getTime() < Date.now()) || attrs.some((a) => /^\s*max-age=0/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json, setCookies };
  }

  get(path: string, options?: RequestOptions): Promise<ApiResponse> {
    return this.request('GET', path, options);
  }

  post(path: string, body?: unknown, options: RequestOptions = {}): Promise<ApiResponse> {
    return this.request('POST', path, { ...options, ...(body !== undefined ? { body } : {}) });
  }

  /** Connects a user in insecure-body mode (the test default). */
  async connect(partnerClientId: string, extra: Record<string, unknown> = {}, options: RequestOptions = {}): Promise<ApiResponse> {
    return this.post('/api/user/clientcheckcredentials', { partnerClientId, ...extra }, options);
  }
}
