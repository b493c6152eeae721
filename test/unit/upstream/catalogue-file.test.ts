import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, SettingsError } from '../../../src/config/load';
import { settingsByName } from '../../../src/config/settings-table';
import { createLogger } from '../../../src/observability/logger';
import { createForwarding } from '../../../src/http/forward';
import { apiRoutes } from '../../../src/routes/api-routes';
import type { IdentitySource } from '../../../src/session/identity';
import type { Sessions } from '../../../src/session/sessions';
import { builtInCatalogue } from '../../../src/upstream/catalogue';
import type { UpstreamClient } from '../../../src/upstream/client';
import { applyCatalogueDocument } from '../../../src/upstream/catalogue-file';

const problemsOf = (endpoints: unknown): readonly string[] => applyCatalogueDocument({ endpoints }).problems;

describe('APM_CATALOGUE_FILE documents', () => {
  it('adds and amends fields, adds endpoints on both sides, and takes one off the surface', () => {
    const { catalogue, problems } = applyCatalogueDocument({
      $comment: 'readings of the real API',
      endpoints: {
        'partner/getprog': { fields: { country: { type: 'string', minLength: 2, maxLength: 2, pattern: '^[A-Z]{2}$', description: 'Country.' } } },
        'user/historyburns': { fields: { limit: { maximum: 50 } } },
        'ad/news': { exposed: false },
        'partner/stores': { side: 'front', effect: 'read', get: true, cache: 'ads', fields: { city: { type: 'string', maxLength: 64, required: true } } },
        'user/points': { side: 'back', effect: 'mutation', idempotent: true, summary: 'Adds points.', fields: { partnerClientId: { type: 'string', maxLength: 128, required: true }, points: { type: 'integer', minimum: 1 } } },
      },
    });
    expect(problems).toEqual([]);
    const getprog = catalogue.find('partner/getprog')!;
    expect(getprog.schema.safeParse({ lang: 'fr', country: 'FR' }).success).toBe(true);
    expect(getprog.schema.safeParse({ country: 'fr' }).success).toBe(false);
    expect(builtInCatalogue.find('partner/getprog')!.schema.safeParse({ country: 'FR' }).success).toBe(false);
    expect(getprog.cache).toBe('program');
    const burns = catalogue.find('user/historyburns')!;
    expect(burns.fields.limit).toEqual({ required: false, spec: { ...builtInCatalogue.find('user/historyburns')!.fields.limit!.spec, maximum: 50 } });
    expect(burns.schema.safeParse({ limit: 51 }).success).toBe(false);
    expect(catalogue.front.map((e) => e.path)).not.toContain('ad/news');
    expect(catalogue.front.find((e) => e.path === 'partner/stores')).toMatchObject({ side: 'front', token: 'user', effect: 'read', allowGet: true, cache: 'ads', idempotent: false, exposed: true, sessionEffect: 'none' });
    expect(catalogue.back.find((e) => e.path === 'user/points')).toMatchObject({ token: 'backend', effect: 'mutation', idempotent: true, summary: 'Adds points.' });
    expect(catalogue.entries.length).toBe(builtInCatalogue.entries.length + 2);
  });

  it('removes a field with null, and lets connect take a field more', () => {
    const { catalogue, problems } = applyCatalogueDocument({
      endpoints: { 'generosity/store': { fields: { lang: null } }, 'user/clientcheckcredentials': { fields: { referrer: { type: 'string', maxLength: 32 } } } },
    });
    expect(problems).toEqual([]);
    expect(Object.keys(catalogue.find('generosity/store')!.fields)).toEqual(['action', 'param1']);
    expect(catalogue.find('user/clientcheckcredentials')!.schema.safeParse({ partnerClientId: 'a', referrer: 'newsletter' }).success).toBe(true);
  });

  it('says what is wrong, one message per problem, and changes nothing', () => {
    const result = applyCatalogueDocument({
      endpoints: {
        'partner/getprogram': { fields: {} },
        'partner/getprog': { fields: { country: { type: 'strng' }, lang: { maxLenght: 3 } } },
        'user/info': { side: 'front' },
        'user/ranking': { side: 'front', token: 'backend' },
        'gift/list': { get: 'yes', cache: 'sometimes' },
      },
    });
    expect(result.catalogue).toBe(builtInCatalogue);
    expect(result.problems).toEqual([
      'endpoints["partner/getprogram"]: unknown endpoint; to add one, give at least its "side" (front or back) and "effect" (read or mutation).',
      'endpoints["partner/getprog"].fields.country.type: "strng" is not one of string, integer, array.',
      'endpoints["partner/getprog"].fields.lang.maxLenght: unknown property of a string field (known: type, required, minLength, maxLength, pattern, description).',
      'endpoints["user/info"]: this would expose a back-end endpoint to browsers on /api (a back-end endpoint of the upstream); add "exposeBackEndToBrowsers": true if that is meant.',
      'endpoints["user/ranking"]: this would expose a back-end endpoint to browsers on /api (signed with the back-end token); add "exposeBackEndToBrowsers": true if that is meant.',
      'endpoints["gift/list"].get: "yes" is not true or false.',
      'endpoints["gift/list"].cache: "sometimes" is not one of none, program, ads.',
    ]);
  });

  it('exposes a back-end endpoint to browsers only when told so explicitly, and still behind a session', () => {
    const { catalogue, problems } = applyCatalogueDocument({ endpoints: { 'user/ranking': { side: 'front', token: 'backend', exposeBackEndToBrowsers: true } } });
    expect(problems).toEqual([]);
    expect(catalogue.front.find((e) => e.path === 'user/ranking')).toMatchObject({ token: 'backend' });
    expect(catalogue.back.map((e) => e.path)).not.toContain('user/ranking');
  });

  it.each([
    [{ 'auth/token': { fields: { scope: { type: 'string', maxLength: 8 } } } }, /auth\/token is called by the service itself/],
    [{ 'user/logout': { exposed: false } }, /ends or opens this service's sessions; its exposed cannot change/],
    [{ 'user/clientcheckcredentials': { fields: { partnerClientId: null } } }, /the service reads this field; it cannot be removed/],
    [{ 'generosity/store': { fields: { action: { type: 'integer' } } } }, /its limits may change, not its type/],
    [{ 'user/multidelete': { fields: { partnerClientIds: { required: false } } } }, /not its type or whether it is required/],
    [{ 'gift/checkavailability': { get: true } }, /only reads answer GET/],
    [{ 'gift/list': { idempotent: true } }, /only mutations take an Idempotency-Key/],
    [{ 'gift/list': { cache: 'program' } }, /"program" answers are shared publicly/],
    [{ 'partner/getprog': { cache: 'ads' } }, /"ads" is for endpoints that need a session/],
    [{ 'user/info': { cache: 'ads' } }, /only front-end reads are cached/],
    [{ 'x/y': { side: 'back', effect: 'read', token: 'user' } }, /no user session to sign with/],
    [{ 'x/y': { side: 'back', effect: 'read', get: true } }, /POST only/],
    [{ 'x/y': { side: 'front' } }, /effect: required for an added endpoint/],
    [{ session: { side: 'front', effect: 'read', token: 'none' } }, /a route of the service itself/],
    [{ '../etc': { side: 'front', effect: 'read' } }, /not an endpoint path/],
    [{ 'x/y': { side: 'front', effect: 'read', fields: { note: { type: 'string' } } } }, /maxLength: required for a string field/],
    [{ 'x/y': { side: 'front', effect: 'read', fields: { note: { maxLength: 3 } } } }, /a new field needs a "type"/],
    [{ 'x/y': { side: 'front', effect: 'read', fields: { note: { type: 'string', maxLength: 8, pattern: '(' } } } }, /pattern: not a regular expression/],
    [{ 'x/y': { side: 'front', effect: 'read', fields: { ids: { type: 'array', items: { type: 'integer' } } } } }, /maxItems: required for an array field/],
    [{ 'x/y': { side: 'front', effect: 'read', fields: { n: { type: 'integer', minimum: 5, maximum: 1 } } } }, /minimum 5 is over maximum 1/],
    [JSON.parse('{"x/y":{"side":"front","effect":"read","fields":{"__proto__":{"type":"integer"}}}}') as unknown, /not a field name/],
    [{ 'gift/list': { fields: { nosuch: null } } }, /there is no such field/],
    [{ 'gift/list': { sdie: 'front' } }, /sdie: unknown property/],
  ])('refuses %j', (endpoints, message) => {
    const problems = problemsOf(endpoints);
    expect(problems).toEqual([expect.stringMatching(message)]);
  });

  it('refuses a document that is not an object of endpoints', () => {
    expect(applyCatalogueDocument([]).problems).toEqual(['the file must hold a JSON object with "endpoints".']);
    expect(applyCatalogueDocument({ endpoint: {} }).problems).toEqual(['"endpoint": unknown property (known: endpoints, $comment).', '"endpoints": must be an object of endpoint paths.']);
  });
});

describe('APM_CATALOGUE_FILE at start-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'catalogue-file-'));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const refusal = (env: Record<string, string>): readonly string[] => {
    try {
      loadSettings(env);
    } catch (err) {
      if (err instanceof SettingsError) return err.problems;
      throw err;
    }
    return [];
  };

  it('puts the amended catalogue in the settings, the built-in one without a file', () => {
    const path = file('ok.json', JSON.stringify({ endpoints: { 'ad/news': { exposed: false } } }));
    expect(loadSettings({ APM_CATALOGUE_FILE: path }).catalogue.front.map((e) => e.path)).not.toContain('ad/news');
    expect(loadSettings({}).catalogue).toBe(builtInCatalogue);
  });

  it('refuses the start naming the setting, for each problem', () => {
    const path = file('bad.json', JSON.stringify({ endpoints: { 'nope/nope': {}, 'gift/list': { get: 1 } } }));
    expect(refusal({ APM_CATALOGUE_FILE: path })).toEqual([
      expect.stringMatching(/^APM_CATALOGUE_FILE: endpoints\["nope\/nope"\]: unknown endpoint/),
      'APM_CATALOGUE_FILE: endpoints["gift/list"].get: 1 is not true or false.',
    ]);
    expect(refusal({ APM_CATALOGUE_FILE: join(dir, 'missing.json') })).toEqual([`APM_CATALOGUE_FILE: cannot read ${join(dir, 'missing.json')} (ENOENT).`]);
    expect(refusal({ APM_CATALOGUE_FILE: file('text.json', '{"endpoints": ') })).toEqual([expect.stringMatching(/^APM_CATALOGUE_FILE: .*text\.json is not JSON/)]);
  });
});

describe('the documented examples', () => {
  it('apply without a problem: the settings table\'s (generated docs) and docs/catalogue-file.md\'s', () => {
    const fromTable = settingsByName.get('APM_CATALOGUE_FILE')!.example!.text;
    const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'catalogue-file.md'), 'utf8');
    const fromDoc = /```json\n([\s\S]*?)```/.exec(doc)![1]!;
    for (const text of [fromTable, fromDoc]) {
      const { problems, catalogue } = applyCatalogueDocument(JSON.parse(text));
      expect(problems).toEqual([]);
      expect(catalogue).not.toBe(builtInCatalogue);
    }
  });
});

describe('the public routes and a catalogue file', () => {
  it('refuses, when built, to serve an /api route signed with the back-end token without a token source', () => {
    const { catalogue } = applyCatalogueDocument({ endpoints: { 'user/ranking': { side: 'front', token: 'backend', exposeBackEndToBrowsers: true } } });
    const settings = loadSettings({});
    const logger = createLogger({ level: 'silent' });
    const sessions = {} as Sessions;
    const client = {} as UpstreamClient;
    const deps = {
      settings,
      logger,
      sessions,
      identity: {} as IdentitySource,
      client,
      forwarding: createForwarding({ logger, sessions, client, programLanguages: settings.programLanguages }),
      catalogue,
    };
    expect(() => apiRoutes(deps)).toThrow('user/ranking is signed with the back-end token, and no backendToken was given');
  });
});
