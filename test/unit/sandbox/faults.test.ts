import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSandboxHandler, startSandbox, type Sandbox } from '../../../src/sandbox';
import { backendToken, connectUser, makeCaller, type Caller } from '../../helpers/raw-sign';

const partnerId = 'partner-faults';
const secret = randomBytes(32).toString('hex');

describe('sandbox: fault injection', () => {
  let sandbox: Sandbox;
  let call: Caller;

  beforeAll(async () => {
    sandbox = await startSandbox({ partners: [{ id: partnerId, secret }] });
    call = makeCaller(sandbox.url, { partnerId, secret });
  });

  afterAll(async () => {
    await sandbox.close();
  });

  afterEach(() => {
    sandbox.clearFaults();
  });

  it('delay: holds the answer, then answers normally', async () => {
    sandbox.injectFault({ path: 'partner/getprog', kind: 'delay', ms: 500, times: 1 });
    const order: string[] = [];
    const delayed = call('partner/getprog').then((res) => {
      order.push('delayed');
      return res;
    });
    // A call sent after the delayed one, to a path without the fault, is answered first.
    const other = await call('auth/token');
    order.push('other');
    const res = await delayed;
    expect(order).toEqual(['other', 'delayed']);
    expect([other.json?.errorCode, res.json?.errorCode]).toEqual([0, 0]);
  });

  it('status: answers that status with a body that is not an envelope, `times` times', async () => {
    sandbox.injectFault({ path: 'partner/getprog', kind: 'status', status: 502, times: 2 });
    for (let i = 0; i < 2; i += 1) {
      const res = await call('partner/getprog');
      expect(res.status).toBe(502);
      expect(res.json).toBeUndefined();
    }
    expect((await call('partner/getprog')).json?.errorCode).toBe(0);
  });

  it('status defaults to 503', async () => {
    sandbox.injectFault({ kind: 'status', times: 1 });
    expect((await call('partner/getprog')).status).toBe(503);
  });

  it('garbage: HTTP 200 with a body that does not parse', async () => {
    sandbox.injectFault({ kind: 'garbage', times: 1 });
    const res = await call('partner/getprog');
    expect(res.status).toBe(200);
    expect(res.json).toBeUndefined();
  });

  it('reset: the connection is destroyed without an answer', async () => {
    sandbox.injectFault({ path: 'partner/getprog', kind: 'reset', times: 1 });
    await expect(call('partner/getprog')).rejects.toThrow();
    expect((await call('partner/getprog')).json?.errorCode).toBe(0);
  });

  it('applies to its path only', async () => {
    sandbox.injectFault({ path: 'ad/news', kind: 'status', status: 500 });
    expect((await call('partner/getprog')).status).toBe(200);
    expect(sandbox.calls.at(-1)?.status).toBe(200);
  });

  it('drop-after-commit: the points are credited, the answer is lost', async () => {
    const id = `drop-${randomBytes(4).toString('hex')}`;
    const sub = await connectUser(call, id);
    sandbox.injectFault({ path: 'generosity/store', kind: 'drop-after-commit', times: 1 });
    await expect(call('generosity/store', { sub, bodyObj: { action: 'purchase', param1: 'order-1' } })).rejects.toThrow();
    expect(sandbox.userPoints(id)).toBe(200);
    // A retry of the same order is refused: nothing doubled.
    expect((await call('generosity/store', { sub, bodyObj: { action: 'purchase', param1: 'order-1' } })).json?.errorCode).toBe(7);
    expect(sandbox.userPoints(id)).toBe(200);
    const dropped = sandbox.calls.filter((c) => c.path === 'generosity/store' && c.status === 0);
    expect(dropped.at(-1)?.errorCode).toBe(0);
  });

  it('delay-after-commit: the purchase is done before the slow answer', async () => {
    const id = `slow-${randomBytes(4).toString('hex')}`;
    const sub = await connectUser(call, id);
    sandbox.injectFault({ path: 'gift/checkavailability', kind: 'delay-after-commit', ms: 400, times: 1 });
    const pending = call('gift/checkavailability', { sub, bodyObj: { giftId: 'coffee' } });
    await new Promise((r) => setTimeout(r, 100));
    expect(sandbox.userPoints(id)).toBe(50);
    const res = await pending;
    expect(res.json?.errorCode).toBe(0);
  });

  it('refuses a rule it cannot apply', () => {
    expect(() => sandbox.injectFault({ kind: 'explode' as never })).toThrow(TypeError);
    expect(() => sandbox.injectFault({ kind: 'status', status: 42 })).toThrow(RangeError);
    expect(() => sandbox.injectFault({ kind: 'delay', times: 0 })).toThrow(RangeError);
  });

  it('is never reachable over HTTP', async () => {
    const res = await fetch(new URL('faults', sandbox.url), { method: 'POST', body: '{"kind":"reset"}' });
    expect(res.status).toBe(404);
    expect((await call('partner/getprog')).json?.errorCode).toBe(0);
  });

  it('close() does not wait for answers held by a delay', async () => {
    const other = await startSandbox({ partners: [{ id: partnerId, secret }] });
    other.injectFault({ kind: 'delay', ms: 60_000 });
    const pending = makeCaller(other.url, { partnerId, secret })('partner/getprog').then(
      () => 'answered',
      () => 'failed',
    );
    await new Promise((r) => setTimeout(r, 50));
    // The held answer is 60 s away, twice the test's own timeout: close() settles without it.
    await other.close();
    expect(await pending).toBe('failed');
  });
});

describe('sandbox: the call log', () => {
  let sandbox: Sandbox;
  let call: Caller;

  beforeAll(async () => {
    sandbox = await startSandbox({ partners: [{ id: partnerId, secret }] });
    call = makeCaller(sandbox.url, { partnerId, secret });
  });

  afterAll(async () => {
    await sandbox.close();
  });

  it('records each call with what was sent and what was answered', async () => {
    sandbox.resetCalls();
    const sub = await connectUser(call, 'log-user');
    await call('gift/list', { sub, headers: { 'X-Request-Id': 'req-123' } });
    await call('gift/list', { sub: 'dead' });
    await call('no/such');
    expect(sandbox.callCount()).toBe(4);
    expect(sandbox.callCount('gift/list')).toBe(2);
    expect(sandbox.callCount('user/clientcheckcredentials')).toBe(1);
    const [connect, list, refused, unknown] = sandbox.calls;
    expect(connect).toMatchObject({ path: 'user/clientcheckcredentials', sub: '', body: '{"partnerClientId":"log-user"}', errorCode: 0, status: 200 });
    expect(list).toMatchObject({ path: 'gift/list', sub, body: '{}', errorCode: 0, status: 200 });
    expect(list?.headers['x-request-id']).toBe('req-123');
    expect(list?.headers['content-type']).toBe('application/json');
    expect(typeof list?.at).toBe('number');
    expect(refused).toMatchObject({ path: 'gift/list', sub: 'dead', errorCode: 3, status: 401 });
    expect(unknown).toMatchObject({ path: '/2.0/no/such', errorCode: 2, status: 404 });
    sandbox.resetCalls();
    expect(sandbox.callCount()).toBe(0);
    expect(sandbox.calls).toEqual([]);
  });
});

describe('sandbox: back-end token life, on an injected clock', () => {
  it('expires after backendTokenTtlSeconds', async () => {
    let clock = Date.UTC(2024, 0, 1);
    const sandbox = await startSandbox({ partners: [{ id: partnerId, secret }], backendTokenTtlSeconds: 10, now: () => clock });
    try {
      const call = makeCaller(sandbox.url, { partnerId, secret, clock: () => clock });
      const res = await call('auth/token');
      expect(res.json?.data).toMatchObject({ expiresIn: 10 });
      const token = await backendToken(call);
      clock += 9_999;
      expect((await call('user/infos', { sub: token })).json?.errorCode).toBe(0);
      clock += 1;
      const expired = await call('user/infos', { sub: token });
      expect({ status: expired.status, errorCode: expired.json?.errorCode }).toEqual({ status: 401, errorCode: 10 });
      expect((await call('user/infos', { sub: await backendToken(call) })).json?.errorCode).toBe(0);
    } finally {
      await sandbox.close();
    }
  });

  it('follows the clock for iat too', async () => {
    let clock = Date.UTC(2030, 0, 1);
    const sandbox = await startSandbox({ partners: [{ id: partnerId, secret }], clockSkewSeconds: 5, now: () => clock });
    try {
      const call = makeCaller(sandbox.url, { partnerId, secret });
      // The caller signs with the real time, years before the sandbox's clock.
      expect((await call('partner/getprog')).json?.errorCode).toBe(8);
      const signedAt = clock - 5000;
      const onTime = makeCaller(sandbox.url, { partnerId, secret, clock: () => signedAt });
      expect((await onTime('partner/getprog')).json?.errorCode).toBe(0);
      clock += 1000;
      expect((await onTime('partner/getprog')).json?.errorCode).toBe(8);
    } finally {
      await sandbox.close();
    }
  });
});

describe('sandbox: embedded handler', () => {
  let server: Server;
  let url: string;
  const embedded = createSandboxHandler({ partners: [{ id: partnerId, secret }], basePath: '/apm/2.0' });

  beforeAll(async () => {
    server = createServer(embedded.handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/apm/2.0/`;
  });

  afterAll(async () => {
    embedded.dispose();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('serves the same API under its own base path, with the same controls', async () => {
    const call = makeCaller(url, { partnerId, secret });
    const sub = await connectUser(call, 'embedded-user');
    expect((await call('generosity/store', { sub, bodyObj: { action: 'welcome' } })).json?.errorCode).toBe(0);
    expect(embedded.userPoints('embedded-user')).toBe(250);
    expect(embedded.callCount('generosity/store')).toBe(1);
    embedded.killUserTokens('embedded-user');
    expect((await call('gift/list', { sub })).json?.errorCode).toBe(3);
  });

  it('refuses options it cannot run with', () => {
    expect(() => createSandboxHandler({ partners: [] })).toThrow(TypeError);
    expect(() => createSandboxHandler({ partners: [{ id: 'p', secret: '' }] })).toThrow(TypeError);
    expect(() => createSandboxHandler({ partners: [{ id: 'p', secret: 's' }], backendTokenTtlSeconds: 0 })).toThrow(RangeError);
  });
});
