import { spawn, type ChildProcess } from 'node:child_process';
import type { Sandbox } from '../../src/sandbox';
import { ensureBuilt } from '../helpers/build';
import { freePort } from '../helpers/global-setup';
import { ApiClient } from '../helpers/http';
import { dropPrefix, uniquePrefix } from '../helpers/redis';
import { startTestSandbox, startTestService, type TestService } from '../helpers/service';
import { SERVER, serviceProcessEnv } from '../helpers/service-process';

/**
 * A replica killed (SIGKILL) while an earn it sent is in the upstream's hands; the client retries
 * with the same key on the other replica. While the first may still be running: 409. Once its
 * lease is over: an earn with a unique param1 is settled by sending it again (the upstream's
 * duplicate refusal proves it was applied), credited exactly once.
 */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a replica killed in the middle of an earn', () => {
  let sandbox: Sandbox;
  let prefix: string;
  let proc: ChildProcess | undefined;
  let survivor: TestService;
  beforeAll(async () => {
    ensureBuilt();
    sandbox = await startTestSandbox();
    prefix = uniquePrefix('kill');
  }, 300_000);
  afterAll(async () => {
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
    await survivor?.close();
    await sandbox.close();
    await dropPrefix(prefix);
  });

  it('the same-key retry on the other replica gets 409 during the lease, then the settled success; one credit', async () => {
    const env = { APM_TIMEOUT_MS: '1000', RATE_LIMIT_ENABLED: 'false' };
    const port = await freePort();
    const internalPort = await freePort();
    proc = spawn(process.execPath, [SERVER], {
      env: serviceProcessEnv(sandbox, prefix, { port, internalPort }, env),
      stdio: 'ignore',
    });
    for (let i = 0; (await fetch(`http://127.0.0.1:${internalPort}/readyz`).then((r) => r.status, () => 0)) !== 200; i += 1) {
      if (i > 200) throw new Error('the replica never became ready');
      await sleep(100);
    }
    survivor = await startTestService({ sandbox, prefix, env });

    const onKilled = new ApiClient(`http://127.0.0.1:${port}`);
    expect((await onKilled.connect('kill-user')).status).toBe(200);
    const onSurvivor = new ApiClient(survivor.url);
    for (const [k, v] of onKilled.cookies) onSurvivor.cookies.set(k, v);
    const start = sandbox.userPoints('kill-user')!;
    const key = `kill-${process.pid}`;
    const body = { action: 'purchase', param1: 'order-killed-replica' };
    const headers = { 'Idempotency-Key': key };

    // The upstream applies the earn at once, but answers only later: the replica dies meanwhile.
    sandbox.injectFault({ path: 'generosity/store', kind: 'delay-after-commit', ms: 30_000, times: 1 });
    const lost = onKilled.post('/api/generosity/store', body, { headers }).then(
      (r) => r.status,
      () => 'no answer',
    );
    for (let i = 0; sandbox.callCount('generosity/store') === 0 && sandbox.userPoints('kill-user') === start; i += 1) {
      if (i > 200) throw new Error('the earn never reached the upstream');
      await sleep(25);
    }
    await sleep(100);
    proc.kill('SIGKILL');
    expect(await lost).toBe('no answer');
    expect(sandbox.userPoints('kill-user')).toBe(start + 50);

    const during = await onSurvivor.post('/api/generosity/store', body, { headers });
    expect(during.status).toBe(409);
    expect(during.json.code).toBe('ERR_IDEMPOTENCY_IN_FLIGHT');

    // The lease of the first request: one upstream timeout and 10 s.
    await sleep(11_500);
    const settled = await onSurvivor.post('/api/generosity/store', body, { headers });
    expect(settled.status).toBe(200);
    expect(settled.json).toEqual({ errorCode: 0, errorMsg: 'ok', data: { alreadyApplied: true, action: 'purchase', param1: 'order-killed-replica' } });
    expect(sandbox.userPoints('kill-user')).toBe(start + 50);
    const earns = (await onSurvivor.get('/api/user/historyearns?limit=100')).json.data.earns as { param1?: string }[];
    expect(earns.filter((e) => e.param1 === 'order-killed-replica')).toHaveLength(1);
  }, 60_000);
});
