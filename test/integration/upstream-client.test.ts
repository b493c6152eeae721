import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { UpstreamAuthFailure, UpstreamFault, UpstreamTimeout, UpstreamUnreachable, UpstreamUnreadable } from '../../src/errors';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import type { Sandbox } from '../../src/sandbox';
import { endpoint } from '../../src/upstream/catalogue';
import { createUpstreamClient, type UpstreamClient } from '../../src/upstream/client';
import { createSigner } from '../../src/upstream/signer';
import { startTestSandbox, TEST_PARTNER } from '../helpers/service';

describe('upstream client against the sandbox', () => {
  let sandbox: Sandbox;
  let client: UpstreamClient;
  const logs: string[] = [];
  const build = (secret: string, timeoutMs = 800, notAppliedStatuses?: ReadonlySet<number>): UpstreamClient =>
    createUpstreamClient({
      baseUrl: sandbox.url,
      timeoutMs,
      maxSockets: 16,
      ...(notAppliedStatuses ? { notAppliedStatuses } : {}),
      signer: createSigner({ partnerId: TEST_PARTNER.id, partnerSecret: secret, jsonEncoding: 'php', signedHeadersFormat: 'object', emptyBody: '{}', signatureHeader: 'Authorization' }),
      logger: createLogger({ level: 'trace', destination: new Writable({ write: (c: Buffer, _e, cb) => (logs.push(c.toString()), cb()) }) }),
      metrics: createMetrics(),
    });

  beforeAll(async () => {
    sandbox = await startTestSandbox();
    client = build(TEST_PARTNER.secret);
  });
  afterEach(() => sandbox.clearFaults());
  afterAll(async () => {
    client.close();
    await sandbox.close();
  });

  const getprog = { endpoint: endpoint('partner/getprog'), sub: '', body: { lang: 'fr' }, requestId: 'r-1' };

  it('decodes a success into a typed answer', async () => {
    const a = await client.call(getprog);
    expect(a.errorCode).toBe(0);
    expect(a.envelope.errorMsg).toBe('ok');
    expect(JSON.parse(a.text)).toEqual(a.envelope);
  });

  it('passes a business refusal back as an answer, not an error', async () => {
    const a = await client.call({ endpoint: endpoint('user/clientcheckcredentials'), sub: '', body: { partnerClientId: '' }, requestId: 'r-2' });
    expect(a.errorCode).toBe(2);
  });

  it('throws UpstreamAuthFailure when the secret is wrong, and logs it loudly without secrets', async () => {
    const wrong = build('not-the-secret-at-all-0123456789');
    try {
      const err = await wrong.call(getprog).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamAuthFailure);
      expect((err as UpstreamAuthFailure).upstreamErrorCode).toBe(9);
      expect((err as UpstreamAuthFailure).status).toBe(502);
      expect(logs.join('')).toMatch(/APM_PARTNER_SECRET/);
    } finally {
      wrong.close();
    }
  });

  it('throws UpstreamTimeout past the timeout', async () => {
    sandbox.injectFault({ path: 'partner/getprog', kind: 'delay', ms: 2000, times: 1 });
    await expect(client.call(getprog)).rejects.toBeInstanceOf(UpstreamTimeout);
  });

  it('throws UpstreamFault on a 5xx and UpstreamUnreadable on garbage', async () => {
    sandbox.injectFault({ path: 'partner/getprog', kind: 'status', status: 503, times: 1 });
    const fault = await client.call(getprog).catch((e: unknown) => e);
    expect(fault).toBeInstanceOf(UpstreamFault);
    expect((fault as UpstreamFault).httpStatus).toBe(503);
    sandbox.injectFault({ path: 'partner/getprog', kind: 'garbage', times: 1 });
    await expect(client.call(getprog)).rejects.toBeInstanceOf(UpstreamUnreadable);
  });

  it('marks a fault whose status comes from in front of the upstream (UPSTREAM_NOT_APPLIED_STATUSES) as applying nothing', async () => {
    const fronted = build(TEST_PARTNER.secret, 800, new Set([502]));
    try {
      sandbox.injectFault({ path: 'partner/getprog', kind: 'status', status: 502, times: 1 });
      const inFront = (await fronted.call(getprog).catch((e: unknown) => e)) as UpstreamFault;
      expect([inFront.httpStatus, inFront.applied, inFront.upstreamHealth, inFront.callOutcome]).toEqual([502, 'no', 'failure', 'fault']);
      sandbox.injectFault({ path: 'partner/getprog', kind: 'status', status: 503, times: 1 });
      const behind = (await fronted.call(getprog).catch((e: unknown) => e)) as UpstreamFault;
      expect([behind.httpStatus, behind.applied]).toEqual([503, 'unknown']);
    } finally {
      fronted.close();
    }
  });

  it('retries a read once on a reset connection, never a mutation', async () => {
    sandbox.injectFault({ path: 'partner/getprog', kind: 'reset', times: 1 });
    const before = sandbox.callCount('partner/getprog');
    expect((await client.call(getprog)).errorCode).toBe(0);
    expect(sandbox.callCount('partner/getprog') - before).toBe(2);

    sandbox.injectFault({ path: 'partner/getprog', kind: 'reset', times: 2 });
    await expect(client.call(getprog)).rejects.toBeInstanceOf(UpstreamUnreachable);

    const connect = await client.call({ endpoint: endpoint('user/clientcheckcredentials'), sub: '', body: { partnerClientId: 'retry-1' }, requestId: 'r-3' });
    const userToken = (connect.envelope.data as { user: { userToken: string } }).user.userToken;
    sandbox.injectFault({ path: 'generosity/store', kind: 'reset', times: 1 });
    const storesBefore = sandbox.callCount('generosity/store');
    await expect(client.call({ endpoint: endpoint('generosity/store'), sub: userToken, body: { action: 'review' }, requestId: 'r-4' })).rejects.toBeInstanceOf(UpstreamUnreachable);
    expect(sandbox.callCount('generosity/store') - storesBefore).toBe(1);
  });

  it('throws UpstreamUnreachable when nothing listens', async () => {
    const nowhere = createUpstreamClient({
      baseUrl: 'http://127.0.0.1:1/2.0/',
      timeoutMs: 1000,
      maxSockets: 1,
      signer: createSigner({ partnerId: 'p', partnerSecret: 's', jsonEncoding: 'php', signedHeadersFormat: 'object', emptyBody: '{}', signatureHeader: 'Authorization' }),
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics(),
    });
    await expect(nowhere.call(getprog)).rejects.toBeInstanceOf(UpstreamUnreachable);
    nowhere.close();
  });

  it('labels an errorCode the API does not document as "other", so an upstream cannot mint series', async () => {
    // A real HTTP upstream answering an envelope whose errorCode the API never sends.
    const odd = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"errorCode":4711,"errorMsg":"new in some release"}'));
    });
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    const metrics = createMetrics();
    const oddClient = createUpstreamClient({
      baseUrl: `http://127.0.0.1:${(odd.address() as AddressInfo).port}/2.0/`,
      timeoutMs: 2000,
      maxSockets: 2,
      signer: createSigner({ partnerId: TEST_PARTNER.id, partnerSecret: TEST_PARTNER.secret, jsonEncoding: 'php', signedHeadersFormat: 'object', emptyBody: '{}', signatureHeader: 'Authorization' }),
      logger: createLogger({ level: 'silent' }),
      metrics,
    });
    try {
      expect(await oddClient.call(getprog).catch((e: unknown) => e)).toBeInstanceOf(UpstreamFault);
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/^miles_bff_upstream_calls_total\{endpoint="partner\/getprog",error_code="other",outcome="fault"\} 1$/m);
      expect(text).not.toContain('4711');
    } finally {
      oddClient.close();
      await new Promise((resolve) => odd.close(resolve));
    }
  });

  it('never logs the secret, a signature JWT or a token', () => {
    const text = logs.join('');
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain(TEST_PARTNER.secret);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
    for (const c of sandbox.calls) if (c.sub) expect(text).not.toContain(c.sub);
  });
});

describe('logger redaction', () => {
  it('censors cookies, authorization, tokens and secrets wherever they appear', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) });
    logger.info({ req: { headers: { cookie: 'miles.sid=abc', authorization: 'Bearer eyJx' } }, user: { userToken: 'ut-123' }, token: 'bt-456', partnerSecret: 'ps-789', nested: { secret: 'sx' } }, 'x');
    const text = lines.join('');
    for (const needle of ['miles.sid=abc', 'eyJx', 'ut-123', 'bt-456', 'ps-789', '"sx"']) expect(text).not.toContain(needle);
    expect(text).toContain('[redacted]');
  });
});
