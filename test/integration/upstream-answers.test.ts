import { Writable } from 'node:stream';
import { UpstreamMisread } from '../../src/errors';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import type { Sandbox } from '../../src/sandbox';
import { endpoint, type EndpointSpec } from '../../src/upstream/catalogue';
import { createUpstreamClient, type UpstreamClient } from '../../src/upstream/client';
import { createSigner } from '../../src/upstream/signer';
import { ApiClient } from '../helpers/http';
import { startTestSandbox, startTestService, TEST_PARTNER, type TestService } from '../helpers/service';
import { startStatusRelay, type StatusRelay } from '../helpers/status-relay';

/** Upstream answers read exactly: below 500, only a 2xx with errorCode 0 is a success, and a 404 is never the caller's fault. */
describe('upstream answers read exactly', () => {
  let sandbox: Sandbox;
  let relay: StatusRelay;
  let client: UpstreamClient;
  const logs: string[] = [];

  beforeAll(async () => {
    sandbox = await startTestSandbox();
    relay = await startStatusRelay(sandbox.url);
    client = createUpstreamClient({
      baseUrl: relay.url,
      timeoutMs: 2000,
      maxSockets: 8,
      signer: createSigner({ partnerId: TEST_PARTNER.id, partnerSecret: TEST_PARTNER.secret, jsonEncoding: 'php', signedHeadersFormat: 'object', emptyBody: '{}', signatureHeader: 'Authorization' }),
      logger: createLogger({ level: 'info', destination: new Writable({ write: (c: Buffer, _e, cb) => (logs.push(c.toString()), cb()) }) }),
      metrics: createMetrics(),
      circuitBreaker: { enabled: true, failureThreshold: 1, failureRatePercent: 1, windowSeconds: 10, openSeconds: 60 },
    });
  });
  afterEach(() => relay.clear());
  afterAll(async () => {
    client.close();
    await relay.close();
    await sandbox.close();
  });

  const getprog = { endpoint: endpoint('partner/getprog'), sub: '', body: { lang: 'fr' }, requestId: 'answers-1' };

  it('reads a path the upstream does not know (404, errorCode 2) as a misreading with the status logged, not a refusal', async () => {
    const unknown: EndpointSpec = { ...endpoint('partner/getprog'), path: 'partner/getprogram' };
    const err = await client.call({ ...getprog, endpoint: unknown }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamMisread);
    expect((err as UpstreamMisread).status).toBe(502);
    expect((err as UpstreamMisread).httpStatus).toBe(404);
    expect((err as UpstreamMisread).upstreamErrorCode).toBe(2);
    const line = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.endpoint === 'partner/getprogram');
    expect(line).toMatchObject({ upstreamStatus: 404, upstreamErrorCode: 2, requestId: 'answers-1' });
    expect(String(line!.msg)).toMatch(/APM_CATALOGUE_FILE/);
  });

  it.each([400, 401, 302, 404])('reads errorCode 0 under HTTP %i as a misreading', async (status) => {
    relay.rewrite('partner/getprog', status);
    const err = await client.call(getprog).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamMisread);
    expect((err as UpstreamMisread).httpStatus).toBe(status);
    expect((err as UpstreamMisread).upstreamErrorCode).toBe(0);
  });

  it('takes errorCode 0 under any 2xx as success, and misreadings never open the circuit', async () => {
    relay.rewrite('partner/getprog', 201);
    expect((await client.call(getprog)).errorCode).toBe(0);
    relay.clear();
    // The circuit (threshold 1) is still closed after the misreadings above.
    expect((await client.call(getprog)).errorCode).toBe(0);
  });

  it('keeps a business refusal under 200 an answer', async () => {
    const answer = await client.call({ endpoint: endpoint('user/clientcheckcredentials'), sub: '', body: { partnerClientId: '' }, requestId: 'answers-2' });
    expect(answer.errorCode).toBe(2);
  });

  describe('through the service', () => {
    let service: TestService;
    beforeAll(async () => {
      service = await startTestService({ sandbox, env: { APM_BASE_URL: relay.url } });
    });
    afterAll(async () => service.close());

    it('answers 502 problem+json naming the upstream status, never a 400 blaming the caller', async () => {
      relay.rewrite('partner/getprog', 400);
      const res = await new ApiClient(service.url).request('GET', '/api/partner/getprog?lang=en');
      expect(res.status).toBe(502);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.json).toMatchObject({ status: 502, code: 'ERR_UPSTREAM_MISREAD', upstreamErrorCode: 0 });
      expect(service.logs.join('')).toMatch(/"upstreamStatus":400/);
    });
  });
});
