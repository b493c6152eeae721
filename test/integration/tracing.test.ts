import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ensureBuilt } from '../helpers/build';
import { freePort } from '../helpers/global-setup';
import { ApiClient } from '../helpers/http';
import { OtlpReceiver, SPAN_KIND, type ReceivedSpan } from '../helpers/otlp-receiver';
import { dropPrefix, uniquePrefix } from '../helpers/redis';
import { startTestSandbox, TEST_PARTNER, TEST_SESSION_SECRET } from '../helpers/service';
import type { Sandbox } from '../../src/sandbox';
import { SERVER, serviceProcessEnv } from '../helpers/service-process';


interface ServiceProcess {
  readonly child: ChildProcess;
  readonly api: ApiClient;
  /** Every JSON line the process wrote to stdout. */
  readonly lines: Record<string, unknown>[];
  stop(): Promise<void>;
}

/** The real process (`node dist/server.js`): instrumentation hooks modules as they load, as in the image. */
async function startService(sandbox: Sandbox, prefix: string, env: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort();
  const internalPort = await freePort();
  const child = spawn(process.execPath, [SERVER], {
    env: serviceProcessEnv(sandbox, prefix, { port, internalPort }, { LOG_LEVEL: 'debug', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const part of parts) if (part.trim()) lines.push(JSON.parse(part) as Record<string, unknown>);
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const end = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${internalPort}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > end) throw new Error(`the service did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    api: new ApiClient(`http://127.0.0.1:${port}`),
    lines,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const newTraceparent = (): { traceId: string; parentId: string; header: string } => {
  const traceId = hex(16);
  const parentId = hex(8);
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
};

const INTERNAL_KEY = 'internal-key-for-tracing-0123456789';

const byName = (spans: readonly ReceivedSpan[], name: string): ReceivedSpan | undefined => spans.find((s) => s.name === name);
const serverSpan = (spans: readonly ReceivedSpan[]): ReceivedSpan | undefined => spans.find((s) => s.kind === SPAN_KIND.server);

describe('tracing with OTEL_EXPORTER_OTLP_ENDPOINT set', () => {
  let receiver: OtlpReceiver;
  let sandbox: Sandbox;
  let service: ServiceProcess;
  const prefix = uniquePrefix('otel');

  beforeAll(async () => {
    ensureBuilt();
    receiver = await OtlpReceiver.start();
    sandbox = await startTestSandbox();
    service = await startService(sandbox, prefix, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_SERVICE_NAME: 'miles-bff-under-test',
      INTERNAL_API_KEYS: `ops:${INTERNAL_KEY}`,
    });
  }, 300_000);

  afterAll(async () => {
    await service?.stop();
    await sandbox?.close();
    await receiver?.close();
    await dropPrefix(prefix);
  });

  it('continues the caller’s trace through the request, its cache lookup, its Redis commands and the upstream call, which carries it', async () => {
    const inbound = newTraceparent();
    const res = await service.api.get('/api/partner/getprog?lang=fr', { headers: { traceparent: inbound.header } });
    expect(res.status).toBe(200);

    const spans = await receiver.trace(inbound.traceId, (s) => Boolean(serverSpan(s) && byName(s, 'POST partner/getprog')));
    const server = serverSpan(spans)!;
    expect(server.name).toBe('GET /api/partner/getprog');
    expect(server.attributes['http.route']).toBe('/api/partner/getprog');
    expect(server.parentSpanId).toBe(inbound.parentId);
    expect(server.attributes['miles.cache.result']).toBe('miss');
    expect(server.attributes['miles.cache.hit']).toBe(false);
    expect(server.resource['service.name']).toBe('miles-bff-under-test');

    const upstream = byName(spans, 'POST partner/getprog')!;
    expect(upstream.kind).toBe(SPAN_KIND.client);
    expect(upstream.parentSpanId).toBe(server.spanId);
    expect(upstream.attributes).toMatchObject({ 'miles.upstream.endpoint': 'partner/getprog', 'miles.upstream.error_code': 0, 'http.request.method': 'POST' });

    // The upstream received the trace, continued from the upstream call's span (and signed: it answered 0).
    const call = sandbox.calls.filter((c) => c.path === 'partner/getprog').at(-1)!;
    expect(call.headers.traceparent).toBe(`00-${inbound.traceId}-${upstream.spanId}-01`);
    expect(call.errorCode).toBe(0);

    const redis = spans.filter((s) => s.attributes['db.system.name'] === 'redis');
    expect(redis.map((s) => s.attributes['db.operation.name'])).toEqual(expect.arrayContaining(['GET', 'SET']));
    for (const span of redis) {
      expect(span.kind).toBe(SPAN_KIND.client);
      expect(span.parentSpanId).toBe(server.spanId);
      // The command alone: keys hold session ids and user ids.
      expect(span.attributes['db.query.text']).toBe(span.attributes['db.operation.name']);
    }

    // Every log line of the request carries its trace, the access line the request's span.
    const requestId = res.headers.get('x-request-id');
    const ofRequest = service.lines.filter((l) => l.requestId === requestId);
    expect(ofRequest.length).toBeGreaterThan(0);
    for (const line of ofRequest) expect(line.trace_id).toBe(inbound.traceId);
    expect(ofRequest.find((l) => l.msg === 'request')).toMatchObject({ trace_id: inbound.traceId, span_id: server.spanId, trace_flags: '01' });
  });

  it('marks a cache hit on the request’s span, which then has no upstream call', async () => {
    const warm = await service.api.get('/api/partner/getprog?lang=en');
    expect(warm.status).toBe(200);
    const inbound = newTraceparent();
    const res = await service.api.get('/api/partner/getprog?lang=en', { headers: { traceparent: inbound.header } });
    expect(res.status).toBe(200);
    const spans = await receiver.trace(inbound.traceId, (s) => Boolean(serverSpan(s)));
    const server = serverSpan(spans)!;
    expect(server.attributes).toMatchObject({ 'miles.cache.result': 'hit', 'miles.cache.hit': true, 'miles.cache.endpoint': 'partner/getprog' });
    expect(server.events.map((e) => e.name)).toContain('cache');
    expect(spans.filter((s) => s.attributes['miles.upstream.endpoint'] !== undefined)).toEqual([]);
  });

  it('puts no token, signature, cookie, secret or body in any span of a connected user’s requests', async () => {
    const user = new ApiClient(service.api.baseUrl);
    const partnerClientId = `trace-${hex(4)}`;
    const email = `${partnerClientId}@example.test`;
    const connectTrace = newTraceparent();
    const connected = await user.connect(partnerClientId, { email, firstName: 'Ada' }, { headers: { traceparent: connectTrace.header } });
    expect(connected.status).toBe(200);
    const readTrace = newTraceparent();
    const read = await user.post('/api/user/historyburns', { page: 1 }, { headers: { traceparent: readTrace.header } });
    expect(read.status).toBe(200);

    const connectSpans = await receiver.trace(connectTrace.traceId, (s) => Boolean(serverSpan(s) && byName(s, 'POST user/clientcheckcredentials')));
    const readSpans = await receiver.trace(readTrace.traceId, (s) => Boolean(serverSpan(s) && byName(s, 'POST user/historyburns')));
    expect(serverSpan(connectSpans)!.name).toBe('POST /api/user/clientcheckcredentials');
    expect(byName(readSpans, 'POST user/historyburns')!.attributes).toMatchObject({ 'miles.upstream.error_code': 0, 'miles.upstream.signed_with': 'user' });

    const upstreamCall = sandbox.calls.filter((c) => c.path === 'user/historyburns').at(-1)!;
    const userToken = upstreamCall.sub;
    const signature = upstreamCall.headers.authorization!.replace(/^Bearer /, '');
    expect(userToken.length).toBeGreaterThan(8);
    const sessionCookie = [...user.cookies.values()][0]!;
    const secrets = [TEST_PARTNER.secret, TEST_SESSION_SECRET, userToken, signature, sessionCookie, decodeURIComponent(sessionCookie), email, upstreamCall.body];
    // Everything exported, whole: span and resource attributes, events, names.
    const exported = receiver.bodies.join('\n');
    for (const secret of secrets) expect(exported).not.toContain(secret);
    // The session id without its signature, as the Redis keys hold it.
    const sessionId = decodeURIComponent(sessionCookie).replace(/^s:/, '').split('.')[0]!;
    expect(sessionId.length).toBeGreaterThan(16);
    expect(exported).not.toContain(sessionId);
  });

  it('traces an internal call and the back-end token it needs, without the key or the token', async () => {
    const inbound = newTraceparent();
    const internal = service.lines.find((l) => typeof l.internal === 'string')!.internal as string;
    const partnerClientId = `trace-${hex(4)}`;
    await new ApiClient(service.api.baseUrl).connect(partnerClientId);
    const res = await fetch(`${internal}/internal/user/info`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${INTERNAL_KEY}`, 'Content-Type': 'application/json', traceparent: inbound.header },
      body: JSON.stringify({ partnerClientId }),
    });
    expect(res.status).toBe(200);
    const spans = await receiver.trace(inbound.traceId, (s) => Boolean(serverSpan(s) && byName(s, 'POST user/info')));
    const server = serverSpan(spans)!;
    expect(server.name).toBe('POST /internal/user/info');
    expect(server.parentSpanId).toBe(inbound.parentId);
    const upstream = byName(spans, 'POST user/info')!;
    expect(upstream.attributes).toMatchObject({ 'miles.upstream.signed_with': 'backend', 'miles.upstream.error_code': 0 });
    const backendToken = sandbox.calls.filter((c) => c.path === 'user/info').at(-1)!.sub;
    expect(backendToken.length).toBeGreaterThan(8);
    const exported = receiver.bodies.join('\n');
    expect(exported).not.toContain(backendToken);
    expect(exported).not.toContain(INTERNAL_KEY);
  });

  it('redacts credentials a caller put in the query string, and names an unknown path by method alone', async () => {
    const inbound = newTraceparent();
    const secret = `query-secret-${hex(8)}`;
    const res = await service.api.get(`/api/partner/getprog?lang=fr&token=${secret}&code=${secret}`, { headers: { traceparent: inbound.header } });
    expect(res.status).toBe(400);
    const spans = await receiver.trace(inbound.traceId, (s) => Boolean(serverSpan(s)));
    expect(serverSpan(spans)!.attributes['url.query']).toMatch(/^lang=fr&token=REDACTED&code=REDACTED$/);
    expect(receiver.bodies.join('\n')).not.toContain(secret);

    const unknown = newTraceparent();
    const raw = `/api/no-such-${hex(4)}`;
    expect((await service.api.get(raw, { headers: { traceparent: unknown.header } })).status).toBe(404);
    const unknownSpans = await receiver.trace(unknown.traceId, (s) => Boolean(serverSpan(s)));
    expect(serverSpan(unknownSpans)!.name).toBe('GET');
    expect(serverSpan(unknownSpans)!.attributes['http.route']).toBeUndefined();
  });

  it('records an upstream fault on the upstream call’s span as an error with its code', async () => {
    sandbox.injectFault({ path: 'partner/getprog', kind: 'status', status: 503, times: 2 });
    const inbound = newTraceparent();
    const res = await service.api.get('/api/partner/getprog?lang=de', { headers: { traceparent: inbound.header } });
    expect(res.status).toBe(502);
    const spans = await receiver.trace(inbound.traceId, (s) => Boolean(serverSpan(s) && byName(s, 'POST partner/getprog')));
    const upstream = byName(spans, 'POST partner/getprog')!;
    expect(upstream.statusCode).toBe(2);
    expect(upstream.attributes).toMatchObject({ 'error.type': 'ERR_UPSTREAM_FAULT', 'http.response.status_code': 503 });
    expect(serverSpan(spans)!.attributes['http.response.status_code']).toBe(502);
  });

  it('sends no span for the probes and the scrape', async () => {
    const before = receiver.spans.length;
    const internal = service.lines.find((l) => typeof l.internal === 'string')!.internal as string;
    expect((await fetch(`${internal}/readyz`)).status).toBe(200);
    expect((await fetch(`${internal}/metrics`)).status).toBe(200);
    // A request after them, to know the batch that would hold them has gone.
    const inbound = newTraceparent();
    await service.api.get('/api/session', { headers: { traceparent: inbound.header } });
    await receiver.trace(inbound.traceId, (s) => Boolean(serverSpan(s)));
    const names = receiver.spans.slice(before).map((s) => s.name);
    expect(names.filter((n) => /healthz|readyz|metrics|PING/.test(n))).toEqual([]);
    expect(receiver.errors).toEqual([]);
  });
});

describe('tracing without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('is off: nothing exported, no trace fields in the logs, the caller’s traceparent passed upstream as before', async () => {
    ensureBuilt();
    const receiver = await OtlpReceiver.start();
    const sandbox = await startTestSandbox();
    const prefix = uniquePrefix('otel-off');
    // The other standard variables, as a platform injects them, do not stop the service.
    const service = await startService(sandbox, prefix, { OTEL_SERVICE_NAME: 'miles-bff', OTEL_TRACES_SAMPLER: 'parentbased_always_on', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    try {
      const inbound = newTraceparent();
      const res = await service.api.get('/api/partner/getprog?lang=fr', { headers: { traceparent: inbound.header } });
      expect(res.status).toBe(200);
      expect(sandbox.calls.at(-1)!.headers.traceparent).toBe(inbound.header);
      const requestId = res.headers.get('x-request-id');
      await new Promise((r) => setTimeout(r, 300));
      const access = service.lines.find((l) => l.requestId === requestId && l.msg === 'request');
      expect(access).toBeDefined();
      expect(service.lines.filter((l) => 'trace_id' in l || 'span_id' in l)).toEqual([]);
      expect(receiver.spans).toEqual([]);
      expect(receiver.errors).toEqual([]);
    } finally {
      await service.stop();
      await sandbox.close();
      await receiver.close();
      await dropPrefix(prefix);
    }
  }, 60_000);
});
