import { answerData } from '../../../src/upstream/answers';
import { builtInCatalogue, catalogue, defineEndpoint, endpoint, type EndpointSpec } from '../../../src/upstream/catalogue';
import { applyCatalogueDocument } from '../../../src/upstream/catalogue-file';

const paths = (entries: readonly EndpointSpec[]): string[] => entries.map((e) => e.path).sort();

describe('the catalogue says what the service special-cases', () => {
  it('which endpoints browsers call, and which of them need a session', () => {
    expect(paths(catalogue.filter((e) => e.browser))).toEqual(paths(catalogue.filter((e) => e.side === 'front')));
    expect(paths(builtInCatalogue.front.filter((e) => !e.needsSession))).toEqual(['partner/getprog', 'user/clientcheckcredentials']);
    expect(endpoint('user/historyburns').needsSession).toBe(true);
  });

  it('which reason ends the sessions after a logout or a delete', () => {
    expect(catalogue.filter((e) => e.sessionEnd).map((e) => [e.path, e.sessionEffect, e.sessionEnd])).toEqual([
      ['user/logout', 'end-user-sessions', 'logout'],
      ['user/delete', 'end-user-sessions', 'delete'],
    ]);
  });

  it("how the connect is read: identity fields optional for a caller, the user's token in the answer", () => {
    const connect = endpoint('user/clientcheckcredentials');
    expect(connect.connect).toEqual({ identityFields: ['partnerClientId', 'email', 'firstName', 'lastName'], userField: 'user', tokenField: 'userToken' });
    expect(connect.schema.safeParse({}).success).toBe(false);
    expect(connect.callerSchema.safeParse({}).success).toBe(true);
    expect(connect.callerSchema.safeParse({ unknown: 1 }).success).toBe(false);
    expect(connect.readFields).toEqual(['partnerClientId', 'email', 'firstName', 'lastName', 'dataConsentCode', 'lang']);
    // Elsewhere a caller is held to the upstream's schema.
    expect(endpoint('gift/checkavailability').callerSchema).toBe(endpoint('gift/checkavailability').schema);
  });

  it('which endpoints are earns, and the users a multidelete lists', () => {
    expect(catalogue.filter((e) => e.earn).map((e) => [e.path, e.earn])).toEqual([
      ['generosity/store', { actionField: 'action', uniqueField: 'param1' }],
      ['buffer/store', { actionField: 'action', uniqueField: 'param1' }],
    ]);
    expect(endpoint('generosity/store').readFields).toEqual(['action']);
    expect(endpoint('user/multidelete').usersField).toBe('partnerClientIds');
    expect(endpoint('user/multidelete').readFields).toEqual(['partnerClientIds']);
  });

  it("references the answers' data schemas", () => {
    expect(endpoint('partner/getprog').data).toBe(answerData.program);
    expect(endpoint('user/clientcheckcredentials').servedData).toBe(answerData.connectedUser);
  });
});

describe('a catalogue file and what the service special-cases', () => {
  it('keeps every special case of an amended entry', () => {
    const { catalogue: amended, problems } = applyCatalogueDocument({
      endpoints: {
        'user/delete': { summary: 'Deletes the user.' },
        'user/clientcheckcredentials': { fields: { country: { type: 'string', maxLength: 2 } } },
        'generosity/store': { fields: { lang: null } },
      },
    });
    expect(problems).toEqual([]);
    expect(amended.find('user/delete')!.sessionEnd).toBe('delete');
    const connect = amended.find('user/clientcheckcredentials')!;
    expect(connect.connect).toEqual(endpoint('user/clientcheckcredentials').connect);
    expect(connect.callerSchema.safeParse({ country: 'fr' }).success).toBe(true);
    expect(connect.readFields).toEqual(endpoint('user/clientcheckcredentials').readFields);
    expect(amended.find('generosity/store')!.earn).toEqual({ actionField: 'action', uniqueField: 'param1' });
  });

  it('declares an added earn, held to the fields an earn needs', () => {
    const { catalogue: added, problems } = applyCatalogueDocument({
      endpoints: {
        'generosity/storebonus': {
          side: 'front', effect: 'mutation', idempotent: true, earn: true,
          fields: { action: { type: 'string', maxLength: 64, required: true }, param1: { type: 'string', maxLength: 128 } },
        },
      },
    });
    expect(problems).toEqual([]);
    const entry = added.find('generosity/storebonus')!;
    expect([entry.earn, entry.readFields, entry.needsSession, entry.browser]).toEqual([{ actionField: 'action', uniqueField: 'param1' }, ['action'], true, true]);

    expect(
      applyCatalogueDocument({ endpoints: { 'partner/stores': { side: 'front', effect: 'read', earn: true, fields: {} }, 'generosity/store': { earn: false } } }).problems,
    ).toEqual([
      'endpoints["partner/stores"].earn: only mutations store an action.',
      'endpoints["partner/stores"].earn: an earn needs a required string field "action".',
      'endpoints["partner/stores"].earn: an earn needs a string field "param1".',
      'endpoints["generosity/store"].earn: generosity/store is an earn (BROWSER_ACTIONS applies to it); it stays one.',
    ]);
  });
});

describe('an entry declared without what its session effect needs', () => {
  it('is refused when defined', () => {
    const base = { data: {}, side: 'front', token: 'user', effect: 'mutation', fields: {}, summary: 's' } as const;
    expect(() => defineEndpoint({ ...base, path: 'user/bye', sessionEffect: 'end-user-sessions' })).toThrow('Catalogue entry user/bye: sessionEffect end-user-sessions needs sessionEnd');
    expect(() => defineEndpoint({ ...base, path: 'user/hello', sessionEffect: 'connect' })).toThrow('needs connect');
    expect(() => defineEndpoint({ ...base, side: 'back', token: 'backend', path: 'user/gone', sessionEffect: 'end-listed-users-sessions' })).toThrow('needs usersField');
  });
});
