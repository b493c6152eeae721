import { BadRequest } from '../../../src/errors';
import { validateInput } from '../../../src/http/validation';
import { endpoint } from '../../../src/upstream/catalogue';

const store = endpoint('generosity/store');
const burns = endpoint('user/historyburns');
const logout = endpoint('user/logout');

function refusal(run: () => unknown): BadRequest {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequest);
    return err as BadRequest;
  }
  throw new Error('validateInput accepted the input');
}

describe('validateInput: bodies', () => {
  it('returns the validated fields, in a fresh object', () => {
    const body = { action: 'signup', param1: 'order-1', lang: 'fr' };
    const out = validateInput(store, body, 'body');
    expect(out).toEqual(body);
    expect(out).not.toBe(body);
  });

  it('takes an empty body where every field is optional, and where the endpoint has none', () => {
    expect(validateInput(burns, {}, 'body')).toEqual({});
    expect(validateInput(logout, {}, 'body')).toEqual({});
  });

  it.each([
    ['null', null],
    ['an array', [{ action: 'signup' }]],
    ['a string', 'signup'],
    ['a number', 42],
    ['undefined', undefined],
  ])('refuses %s: the body must be a JSON object', (_label, input) => {
    expect(refusal(() => validateInput(store, input, 'body')).message).toBe('The body must be a JSON object.');
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses a %s key, whatever the schema', (key) => {
    const body = JSON.parse(`{"action":"signup","${key}":{"polluted":true}}`) as unknown;
    expect(refusal(() => validateInput(store, body, 'body')).message).toBe(`Field "${key}" is not allowed.`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('names unknown fields', () => {
    const err = refusal(() => validateInput(store, { action: 'signup', points: 1000, userToken: 't' }, 'body'));
    expect(err.message).toMatch(/unknown field\(s\) points, userToken/);
    expect(err.status).toBe(400);
  });

  it('names a missing required field and a wrong type by their path', () => {
    expect(refusal(() => validateInput(store, {}, 'body')).message).toMatch(/^Invalid body: action: /);
    expect(refusal(() => validateInput(store, { action: 7 }, 'body')).message).toMatch(/action: /);
    expect(refusal(() => validateInput(burns, { page: '2' }, 'body')).message).toMatch(/page: /);
  });

  it('keeps the schema bounds: integers in range, strings within their length', () => {
    expect(validateInput(burns, { page: 1, limit: 100 }, 'body')).toEqual({ page: 1, limit: 100 });
    for (const body of [{ page: 0 }, { limit: 101 }, { page: 1.5 }, { limit: -1 }]) refusal(() => validateInput(burns, body, 'body'));
    refusal(() => validateInput(store, { action: '' }, 'body'));
    refusal(() => validateInput(store, { action: 'a'.repeat(65) }, 'body'));
  });

  it('carries the issues, one per problem, for the problem document', () => {
    const err = refusal(() => validateInput(burns, { page: 0, limit: 'x' }, 'body'));
    expect((err.extra as { issues: string[] }).issues).toHaveLength(2);
  });

  it('refuses null for an optional field: an absent field is left out, not null', () => {
    refusal(() => validateInput(store, { action: 'signup', param1: null }, 'body'));
  });
});

describe('validateInput: query parameters', () => {
  it('turns integer parameters from their text into numbers', () => {
    expect(validateInput(burns, { page: '2', limit: '50' }, 'query')).toEqual({ page: 2, limit: 50 });
  });

  it.each([
    ['not a number', { page: 'two' }],
    ['a decimal', { page: '1.5' }],
    ['out of range', { limit: '1000' }],
    ['an unknown parameter', { page: '1', debug: '1' }],
  ])('refuses a parameter %s', (_label, query) => {
    expect(refusal(() => validateInput(burns, query, 'query')).message).toMatch(/^Invalid query: /);
  });

  it('refuses a parameter given twice or as an object', () => {
    expect(refusal(() => validateInput(burns, { page: ['1', '2'] }, 'query')).message).toBe('Query parameter "page" must appear once, as a plain value.');
    expect(refusal(() => validateInput(burns, { page: { gt: '1' } }, 'query')).message).toBe('Query parameter "page" must appear once, as a plain value.');
  });

  it('refuses __proto__ in a query as in a body', () => {
    const query = JSON.parse('{"__proto__":"x"}') as unknown;
    expect(refusal(() => validateInput(burns, query, 'query')).message).toBe('Field "__proto__" is not allowed.');
  });
});
