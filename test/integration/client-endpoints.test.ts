import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMilesClient, fetchMilesEndpoints, loadMilesClient, MILES_ENDPOINTS, MilesProblemError } from '../../packages/client/src';
import type { Sandbox } from '../../src/sandbox';
import { startTestSandbox, startTestService, type TestService } from '../helpers/service';

/** The typed client's runtime table follows the service's catalogue, file included, over real HTTP. */
describe('the client endpoint table from the service', () => {
  let sandbox: Sandbox;
  let amended: TestService;
  let builtIn: TestService;

  beforeAll(async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'client-endpoints-')), 'catalogue.json');
    writeFileSync(
      file,
      JSON.stringify({
        endpoints: {
          'ad/news': { exposed: false },
          'gift/list': { get: false },
          'partner/stores': { side: 'front', effect: 'read', get: true, fields: { city: { type: 'string', maxLength: 64, required: true } } },
        },
      }),
    );
    sandbox = await startTestSandbox();
    amended = await startTestService({ sandbox, env: { APM_CATALOGUE_FILE: file } });
    builtIn = await startTestService({ sandbox });
  });
  afterAll(async () => {
    await amended.close();
    await builtIn.close();
    await sandbox.close();
  });

  it('is the built-in table when the service runs the built-in catalogue', async () => {
    const table = await fetchMilesEndpoints({ baseUrl: builtIn.url });
    const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);
    expect(table.endpoints.map(({ path, get, idempotent }) => ({ path, get, idempotent })).sort(byPath)).toEqual(
      Object.values(MILES_ENDPOINTS)
        .map(({ path, get, idempotent }) => ({ path, get, idempotent }))
        .sort(byPath),
    );
    expect(table.endpoints.filter((e) => !e.session).map((e) => e.path).sort()).toEqual(['partner/getprog', 'user/clientcheckcredentials']);
  });

  it('follows the file: a removed endpoint is refused before any request, GET as the service says, an added one reachable by path', async () => {
    const sent: string[] = [];
    const recording = (url: string, init: RequestInit): Promise<Response> => {
      sent.push(`${init.method ?? 'GET'} ${new URL(url).pathname}`);
      return fetch(url, init);
    };
    const miles = await loadMilesClient({ baseUrl: amended.url, transport: 'token', fetch: recording });
    await miles.connect({ partnerClientId: 'client-endpoints-1' });

    const calls = sandbox.callCount();
    await expect(miles.ads('news')).rejects.toThrow(/ad\/news is not served by this service/);
    expect(sandbox.callCount()).toBe(calls);

    const gifts = await miles.giftList({ lang: 'en' });
    expect(gifts.status).toBe(200);
    expect(sent).toContain('POST /api/gift/list');
    expect(sent[0]).toBe('GET /api/endpoints.json');

    const stores = await miles.request('partner/stores', { city: 'Paris' }).catch((e: unknown) => e);
    expect(stores).toBeInstanceOf(MilesProblemError);
    expect((stores as MilesProblemError).problemCode).toBe('ERR_UPSTREAM_MISREAD');
    expect(sandbox.calls[sandbox.calls.length - 1]!.body).toBe('{"city":"Paris"}');
    await expect(miles.request('partner/nothing')).rejects.toThrow(TypeError);
  });

  it('without the table, the built-in one applies and the service answers what it no longer serves with 404', async () => {
    const miles = createMilesClient({ baseUrl: amended.url, transport: 'token' });
    await miles.connect({ partnerClientId: 'client-endpoints-2' });
    const err = await miles.ads('news').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MilesProblemError);
    expect((err as MilesProblemError).status).toBe(404);
  });
});
