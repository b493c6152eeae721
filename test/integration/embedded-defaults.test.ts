import { createApp } from '../../src/app';
import { loadSettings } from '../../src/config/load';
import { listenService, type RunningService } from '../../src/listen';
import { ApiClient } from '../helpers/http';
import type { MilesApp } from '../../src/app';
import { request } from 'node:http';
import { Writable } from 'node:stream';

/** A request with a method the service routes nowhere (WebDAV's PROPFIND, which Node's parser accepts). */
function propfind(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PROPFIND' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('embedded defaults: no settings at all', () => {
  let app: MilesApp;
  let running: RunningService;
  const logs: string[] = [];
  beforeAll(async () => {
    app = await createApp(loadSettings({ COOKIE_SECURE: 'false' }), { logDestination: new Writable({ write: (c: Buffer, _e, cb) => (logs.push(c.toString()), cb()) }) });
    running = await listenService(app, { port: 0, internalPort: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await running.stop(1000);
  });

  it('runs the sandbox in process and says so loudly', async () => {
    expect(app.sandbox).toBeDefined();
    expect(logs.join('')).toMatch(/SANDBOX SIMULATOR/);
    expect(logs.join('')).toMatch(/NO REDIS_URL/);
    const res = await new ApiClient(running.publicUrl).get('/api/partner/getprog');
    expect(res.status).toBe(200);
    expect(res.json.data.program.name).toBe('Demo Rewards');
  });

  it('keeps sessions in the bounded in-process store', async () => {
    expect(app.store.kind).toBe('memory');
    const api = new ApiClient(running.publicUrl);
    expect((await api.connect('embedded-1')).status).toBe(200);
    expect((await api.get('/api/gift/list')).status).toBe(200);
    expect((await api.post('/api/user/logout')).status).toBe(200);
    expect((await api.get('/api/gift/list')).status).toBe(401);
  });

  it('is ready, and exports metrics on the internal listener only', async () => {
    expect((await fetch(`${running.internalUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${running.internalUrl}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${running.internalUrl}/metrics`)).text();
    expect(metrics).toMatch(/miles_bff_http_request_duration_seconds_bucket\{[^}]*route="\/api\/partner\/getprog"[^}]*status="200"/);
    expect(metrics).toMatch(/miles_bff_upstream_duration_seconds_bucket\{[^}]*endpoint="partner\/getprog"[^}]*error_code="0"/);
    // Node's default metrics under their standard names, which stock dashboards query.
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_version_info']) {
      expect([name, new RegExp(`^${name}[{ ]`, 'm').test(metrics)]).toEqual([name, true]);
    }
    expect(metrics).not.toMatch(/^miles_bff_(process|nodejs)_/m);
    expect((await fetch(`${running.publicUrl}/metrics`)).status).toBe(404);
  });

  it('keeps every label bounded: a method nobody routes is counted as "other"', async () => {
    expect(await propfind(`${running.publicUrl}/api/partner/getprog`)).toBeGreaterThanOrEqual(400);
    const metrics = await (await fetch(`${running.internalUrl}/metrics`)).text();
    expect(metrics).toMatch(/^miles_bff_http_request_duration_seconds_count\{[^}]*method="other"[^}]*\} [1-9]/m);
    expect(metrics).not.toContain('PROPFIND');
  });
});

describe('embedded defaults: the sandbox is as strict as the APM_* dialect', () => {
  const dialects: Array<Record<string, string>> = [
    {},
    { APM_JSON_ENCODING: 'standard', APM_SIGNED_HEADERS_FORMAT: 'list', APM_EMPTY_BODY: '[]', APM_SIGNATURE_HEADER: 'X-Apm-Signature' },
    { APM_JSON_ENCODING: 'php', APM_SIGNED_HEADERS_FORMAT: 'list', APM_EMPTY_BODY: '{}', APM_SIGNATURE_HEADER: 'Authorization' },
  ];

  it.each(dialects)('follows %j, and the service works in it end to end', async (dialect) => {
    const app = await createApp(loadSettings({ COOKIE_SECURE: 'false', LOG_LEVEL: 'silent', ...dialect }));
    const running = await listenService(app, { port: 0, internalPort: 0, host: '127.0.0.1' });
    try {
      expect(app.sandbox?.readings).toEqual({
        jsonEncoding: dialect.APM_JSON_ENCODING ?? 'php',
        signedHeadersFormat: dialect.APM_SIGNED_HEADERS_FORMAT ?? 'object',
        emptyBody: dialect.APM_EMPTY_BODY ?? '{}',
        signatureHeader: dialect.APM_SIGNATURE_HEADER ?? 'Authorization',
        reEncodeCheck: false,
      });
      const api = new ApiClient(running.publicUrl);
      // A slash and accents, where the two encodings differ; then a call without parameters.
      expect((await api.connect('client/é-1', { firstName: 'Zoé', lastName: 'Brontë' })).status).toBe(200);
      expect((await api.get('/api/gift/list?lang=fr')).status).toBe(200);
      expect((await api.post('/api/user/logout')).status).toBe(200);
      expect(app.sandbox!.calls.map((c) => c.errorCode)).toEqual([0, 0, 0]);
    } finally {
      await running.stop(1000);
    }
  });
});
