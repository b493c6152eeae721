import { BODY_LIMIT_BYTES, jsonBody } from '../../../src/http/json-body';
import { startMiddlewareApp, type MiddlewareApp, type RawAnswer } from '../../helpers/middleware-app';

const JSON_TYPE = { 'Content-Type': 'application/json' };

/** A JSON object whose text is exactly `bytes` long. */
function objectOfLength(bytes: number): string {
  const text = `{"a":"${'x'.repeat(bytes - 8)}"}`;
  expect(Buffer.byteLength(text)).toBe(bytes);
  return text;
}

function expectProblem(res: RawAnswer, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
}

describe('jsonBody', () => {
  let app: MiddlewareApp;
  beforeAll(async () => {
    app = await startMiddlewareApp([jsonBody()]);
  });
  afterAll(async () => {
    await app?.close();
  });

  const bodyOf = (res: RawAnswer): unknown => (res.json as { body: unknown }).body;

  it('parses a JSON body', async () => {
    const res = await app.request('POST', '/', { headers: JSON_TYPE, body: '{"action":"signup","param1":"é/€"}' });
    expect(res.status).toBe(200);
    expect(bodyOf(res)).toEqual({ action: 'signup', param1: 'é/€' });
  });

  describe('an empty body counts as {}', () => {
    it.each([
      ['without a content type', {}],
      ['with a JSON content type', JSON_TYPE],
      ['with another content type', { 'Content-Type': 'text/plain' }],
    ])('%s', async (_label, headers: Record<string, string>) => {
      const res = await app.request('POST', '/', { headers });
      expect([res.status, bodyOf(res)]).toEqual([200, {}]);
    });

    it('with Content-Length: 0', async () => {
      const res = await app.request('POST', '/', { headers: { ...JSON_TYPE, 'Content-Length': '0' } });
      expect([res.status, bodyOf(res)]).toEqual([200, {}]);
    });

    it('on a GET', async () => {
      const res = await app.request('GET', '/');
      expect([res.status, bodyOf(res)]).toEqual([200, {}]);
    });
  });

  describe('415 for anything but JSON', () => {
    it.each([
      ['no content type', {}],
      ['text/plain', { 'Content-Type': 'text/plain' }],
      ['a form', { 'Content-Type': 'application/x-www-form-urlencoded' }],
      ['multipart', { 'Content-Type': 'multipart/form-data; boundary=x' }],
      ['a JSON-like subtype', { 'Content-Type': 'application/json-patch+json' }],
      ['a type that starts like JSON', { 'Content-Type': 'application/jsonp' }],
    ])('%s', async (_label, headers: Record<string, string>) => {
      const before = app.reached();
      expectProblem(await app.request('POST', '/', { headers, body: '{"a":1}' }), 415);
      expect(app.reached()).toBe(before);
    });
  });

  describe('charset', () => {
    it.each(['application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON; charset="utf-8"', '  application/json  '])(
      'accepts %s',
      async (type) => {
        const res = await app.request('POST', '/', { headers: { 'Content-Type': type }, body: Buffer.from('{"name":"Zoé"}', 'utf8') });
        expect([res.status, bodyOf(res)]).toEqual([200, { name: 'Zoé' }]);
      },
    );

    it.each(['latin1', 'iso-8859-1', 'windows-1252', 'koi8-r'])('refuses charset=%s with 415', async (charset) => {
      expectProblem(await app.request('POST', '/', { headers: { 'Content-Type': `application/json; charset=${charset}` }, body: '{"a":1}' }), 415);
    });
  });

  describe('size', () => {
    it(`takes a body of ${BODY_LIMIT_BYTES} bytes`, async () => {
      const res = await app.request('POST', '/', { headers: JSON_TYPE, body: objectOfLength(BODY_LIMIT_BYTES) });
      expect(res.status).toBe(200);
    });

    it('refuses one byte more with 413, before the handler', async () => {
      const before = app.reached();
      const res = await app.request('POST', '/', { headers: JSON_TYPE, body: objectOfLength(BODY_LIMIT_BYTES + 1) });
      expectProblem(res, 413);
      expect(app.reached()).toBe(before);
    });

    it('refuses a chunked body beyond the limit with 413', async () => {
      const res = await app.request('POST', '/', { headers: { ...JSON_TYPE, 'Transfer-Encoding': 'chunked' }, body: objectOfLength(BODY_LIMIT_BYTES * 2) });
      expectProblem(res, 413);
    });

    it('counts bytes, not characters', async () => {
      // 6000 three-byte characters: under the limit in characters, over it in bytes.
      const res = await app.request('POST', '/', { headers: JSON_TYPE, body: `{"a":"${'€'.repeat(6000)}"}` });
      expectProblem(res, 413);
    });
  });

  describe('malformed JSON is 400', () => {
    it.each([
      ['a truncated object', '{"a":'],
      ['single quotes', "{'a':1}"],
      ['a trailing comma', '{"a":1,}'],
      ['plain text', 'hello'],
      ['two documents', '{}{}'],
    ])('%s', async (_label, body) => {
      const before = app.reached();
      const res = await app.request('POST', '/', { headers: JSON_TYPE, body });
      expectProblem(res, 400);
      expect((res.json as { detail: string }).detail).toMatch(/not valid JSON/);
      expect(app.reached()).toBe(before);
    });
  });

  it('leaves whether the JSON is an object to validation', async () => {
    for (const [body, parsed] of [
      ['[1,2]', [1, 2]],
      ['"text"', 'text'],
      ['42', 42],
    ] as const) {
      const res = await app.request('POST', '/', { headers: JSON_TYPE, body });
      expect([res.status, bodyOf(res)]).toEqual([200, parsed]);
    }
  });
});
