import { createHmac, randomUUID } from 'node:crypto';

/**
 * An independent signer for tests of the sandbox simulator: written from UPSTREAM.md with
 * node:crypto only, sharing no code with the proxy's signer or the simulator's verifier, and
 * able to build every kind of wrong request on purpose.
 */

export type BodyEncoding = 'php' | 'standard';

/** PHP's json_encode without flags: `/` as `\/`, every non-ASCII UTF-16 unit as `\uxxxx`. */
export function phpJson(value: unknown): string {
  return JSON.stringify(value).replace(/[/\u0080-\uffff]/g, (c) => (c === '/' ? '\\/' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

export function encodeBody(value: unknown, encoding: BodyEncoding = 'php'): string {
  return encoding === 'php' ? phpJson(value) : JSON.stringify(value);
}

function b64url(text: string | Buffer): string {
  return Buffer.from(text).toString('base64url');
}

export interface RawSignInput {
  partnerId: string;
  secret: string;
  sub: string;
  /** Exactly the bytes that `data_body` must hold. */
  body: string;
  /** The signed headers, written into `data_header`. */
  headers: Record<string, string>;
  /** Seconds since the epoch; now by default. Anything (a string, a float) to test refusals. */
  iat?: unknown;
  /** Replaces the protected header, e.g. `{alg:'none'}`. */
  protectedHeader?: Record<string, unknown>;
  /** Extra or replacing claims, applied last. */
  claims?: Record<string, unknown>;
  /** `data_header` text as is, instead of encoding `headers`. */
  dataHeaderText?: string;
  encoding?: BodyEncoding;
}

export function rawSign(input: RawSignInput): string {
  const encoding = input.encoding ?? 'php';
  const protectedHeader = input.protectedHeader ?? { alg: 'HS256', typ: 'JWT' };
  const claims = {
    iss: input.partnerId,
    sub: input.sub,
    iat: input.iat ?? Math.floor(Date.now() / 1000),
    data_header: input.dataHeaderText ?? encodeBody(input.headers, encoding),
    data_body: input.body,
    ...input.claims,
  };
  const signingInput = `${b64url(encodeBody(protectedHeader, encoding))}.${b64url(encodeBody(claims, encoding))}`;
  const signature = createHmac('sha256', input.secret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

export interface CallOptions {
  partnerId: string;
  secret: string;
  sub?: string;
  /** Encoded with `encoding` (PHP style by default). */
  bodyObj?: unknown;
  /** Sent as is; wins over `bodyObj`. */
  bodyText?: string;
  encoding?: BodyEncoding;
  /** Sent and signed; merged over Content-Type, Accept and a fresh X-Request-Id. */
  headers?: Record<string, string>;
  /** Sent but not signed. */
  unsignedHeaders?: Record<string, string>;
  /** Signed but not sent (names of `headers` to leave out of the request). */
  omitFromRequest?: string[];
  /** Signs this instead of the body sent. */
  signedBody?: string;
  iat?: unknown;
  protectedHeader?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  dataHeaderText?: string;
  /** The JWT to send instead of the one built here; `null` sends none. */
  jwtOverride?: string | null;
  /** Header carrying the JWT; `Authorization` (with `Bearer `) by default. */
  signatureHeader?: string;
  method?: string;
}

export interface CallResult {
  status: number;
  contentType: string | null;
  text: string;
  /** The parsed envelope, `undefined` when the body is not JSON. */
  json: Envelope | undefined;
}

export interface Envelope {
  errorCode: number;
  errorMsg: string;
  // The tests read arbitrary shapes out of data; each test narrows what it reads.
  data?: Record<string, unknown>;
}

export async function callSandbox(baseUrl: string, path: string, options: CallOptions): Promise<CallResult> {
  const encoding = options.encoding ?? 'php';
  const body = options.bodyText ?? encodeBody(options.bodyObj ?? {}, encoding);
  const signed: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Request-Id': randomUUID() };
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    // A caller's spelling of a default header replaces it rather than doubling it.
    for (const existing of Object.keys(signed)) if (existing.toLowerCase() === name.toLowerCase()) delete signed[existing];
    signed[name] = value;
  }
  const jwt =
    options.jwtOverride !== undefined
      ? options.jwtOverride
      : rawSign({
          partnerId: options.partnerId,
          secret: options.secret,
          sub: options.sub ?? '',
          body: options.signedBody ?? body,
          headers: signed,
          iat: options.iat,
          protectedHeader: options.protectedHeader,
          claims: options.claims,
          dataHeaderText: options.dataHeaderText,
          encoding,
        });
  const omitted = new Set((options.omitFromRequest ?? []).map((n) => n.toLowerCase()));
  const sent: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed)) if (!omitted.has(name.toLowerCase())) sent[name] = value;
  Object.assign(sent, options.unsignedHeaders);
  if (jwt !== null) {
    const header = options.signatureHeader ?? 'Authorization';
    sent[header] = header.toLowerCase() === 'authorization' ? `Bearer ${jwt}` : jwt;
  }
  const method = options.method ?? 'POST';
  const response = await fetch(new URL(path, baseUrl), { method, headers: sent, body: method === 'GET' || method === 'HEAD' ? undefined : body });
  const text = await response.text();
  let json: Envelope | undefined;
  try {
    json = JSON.parse(text) as Envelope;
  } catch {
    json = undefined;
  }
  return { status: response.status, contentType: response.headers.get('content-type'), text, json };
}

export type Caller = (path: string, options?: Omit<CallOptions, 'partnerId' | 'secret'> & { partnerId?: string; secret?: string }) => Promise<CallResult>;

/** A caller bound to one sandbox and partner; `clock` (ms) sets `iat` when the sandbox's clock is injected. */
export function makeCaller(baseUrl: string, partner: { partnerId: string; secret: string; clock?: () => number }): Caller {
  return (path, options = {}) =>
    callSandbox(baseUrl, path, {
      partnerId: partner.partnerId,
      secret: partner.secret,
      ...(partner.clock ? { iat: Math.floor(partner.clock() / 1000) } : {}),
      ...options,
    });
}

/** Connects (creating when unknown) and returns a fresh userToken. */
export async function connectUser(call: Caller, partnerClientId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call('user/clientcheckcredentials', { bodyObj: { partnerClientId, ...extra } });
  const user = res.json?.data?.user as { userToken?: unknown } | undefined;
  if (res.json?.errorCode !== 0 || typeof user?.userToken !== 'string') throw new Error(`connect failed: ${res.status} ${res.text}`);
  return user.userToken;
}

export async function backendToken(call: Caller): Promise<string> {
  const res = await call('auth/token');
  const token = res.json?.data?.token;
  if (res.json?.errorCode !== 0 || typeof token !== 'string') throw new Error(`auth/token failed: ${res.status} ${res.text}`);
  return token;
}
