import { randomBytes } from 'node:crypto';
import { encodeJson, reEncodeJson, startSandbox, type Sandbox, type SandboxReadings } from '../../src/sandbox';
import { connectUser, makeCaller, type Caller } from '../helpers/raw-sign';

const partnerId = 'partner-readings';
const secret = randomBytes(32).toString('hex');
/** A body whose PHP and JSON.stringify encodings differ: a slash and accents. */
const body = { partnerClientId: 'client/é-1', firstName: 'Zoé' };
const phpText = '{"partnerClientId":"client\\/\\u00e9-1","firstName":"Zo\\u00e9"}';
const standardText = JSON.stringify(body);

async function withSandbox(readings: SandboxReadings, run: (call: Caller) => Promise<void>): Promise<void> {
  const sandbox: Sandbox = await startSandbox({ partners: [{ id: partnerId, secret }], readings });
  try {
    await run(makeCaller(sandbox.url, { partnerId, secret }));
  } finally {
    await sandbox.close();
  }
}

const connect = 'user/clientcheckcredentials';

describe('sandbox: JSON text as PHP writes it', () => {
  it('escapes slashes and every non-ASCII UTF-16 unit in lowercase hex', () => {
    expect(encodeJson({ url: 'https://a.b/c', name: 'Zoé', emoji: '😀', tab: '\t\u0001' }, 'php')).toBe(
      '{"url":"https:\\/\\/a.b\\/c","name":"Zo\\u00e9","emoji":"\\ud83d\\ude00","tab":"\\t\\u0001"}',
    );
    expect(encodeJson({ url: 'a/b' }, 'standard')).toBe('{"url":"a/b"}');
  });

  it('re-encodes a JSON text, or says it is not JSON', () => {
    expect(reEncodeJson('{ "a" : "x/y" }', 'php')).toBe('{"a":"x\\/y"}');
    expect(reEncodeJson('{"a":"x\\/y"}', 'standard')).toBe('{"a":"x/y"}');
    expect(reEncodeJson('{nope', 'php')).toBeUndefined();
  });
});

describe('sandbox: readings of the summary', () => {
  it('by default accepts either encoding, checking raw bytes only', async () => {
    await withSandbox({}, async (call) => {
      expect((await call(connect, { bodyText: phpText })).json?.errorCode).toBe(0);
      expect((await call(connect, { bodyText: standardText, encoding: 'standard' })).json?.errorCode).toBe(0);
    });
  });

  it('jsonEncoding php refuses a JSON.stringify body and data_header (9)', async () => {
    await withSandbox({ jsonEncoding: 'php' }, async (call) => {
      expect((await call(connect, { bodyText: phpText })).json?.errorCode).toBe(0);
      const res = await call(connect, { bodyText: standardText, encoding: 'standard' });
      expect({ status: res.status, errorCode: res.json?.errorCode }).toEqual({ status: 401, errorCode: 9 });
      // Body without a slash, but data_header written by JSON.stringify: "application/json" unescaped.
      expect((await call('partner/getprog', { encoding: 'standard' })).json?.errorCode).toBe(9);
    });
  });

  it('jsonEncoding standard refuses a PHP body (9)', async () => {
    await withSandbox({ jsonEncoding: 'standard' }, async (call) => {
      expect((await call(connect, { bodyText: standardText, encoding: 'standard' })).json?.errorCode).toBe(0);
      expect((await call(connect, { bodyText: phpText, encoding: 'standard' })).json?.errorCode).toBe(9);
    });
  });

  it('reEncodeCheck refuses a body whose PHP re-encoding differs from data_body, and accepts one that re-encodes to it', async () => {
    await withSandbox({ reEncodeCheck: true }, async (call) => {
      expect((await call(connect, { bodyText: phpText })).json?.errorCode).toBe(0);
      expect((await call(connect, { bodyText: standardText, encoding: 'standard' })).json?.errorCode).toBe(9);
      // Same value, other bytes: a re-encoding upstream does not see the difference.
      const spaced = '{ "partnerClientId": "client/é-1",  "firstName": "Zoé" }';
      expect((await call(connect, { bodyText: spaced, signedBody: phpText })).json?.errorCode).toBe(0);
    });
  });

  it('signedHeadersFormat list wants ["Name: value"] and refuses an object (9)', async () => {
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Request-Id': 'r-list' };
    const list = JSON.stringify(Object.entries(headers).map(([n, v]) => `${n}: ${v}`));
    await withSandbox({ signedHeadersFormat: 'list' }, async (call) => {
      expect((await call('partner/getprog', { headers, dataHeaderText: list })).json?.errorCode).toBe(0);
      expect((await call('partner/getprog', { headers })).json?.errorCode).toBe(9);
    });
    await withSandbox({ signedHeadersFormat: 'object' }, async (call) => {
      expect((await call('partner/getprog', { headers, dataHeaderText: list })).json?.errorCode).toBe(9);
      expect((await call('partner/getprog', { headers })).json?.errorCode).toBe(0);
    });
    await withSandbox({}, async (call) => {
      expect((await call('partner/getprog', { headers, dataHeaderText: list })).json?.errorCode).toBe(0);
      const wrong = JSON.stringify([...Object.entries(headers).map(([n, v]) => `${n}: ${v}`), 'X-Other: 1']);
      expect((await call('partner/getprog', { headers, dataHeaderText: wrong })).json?.errorCode).toBe(9);
    });
  });

  it('signatureHeader moves the JWT to another header', async () => {
    await withSandbox({ signatureHeader: 'X-Apm-Signature' }, async (call) => {
      expect((await call('partner/getprog', { signatureHeader: 'X-Apm-Signature' })).json?.errorCode).toBe(0);
      expect((await call('partner/getprog')).json?.errorCode).toBe(9);
      const sub = await connectUser(async (path, options) => call(path, { ...options, signatureHeader: 'X-Apm-Signature' }), 'moved');
      expect((await call('gift/list', { sub, signatureHeader: 'X-Apm-Signature' })).json?.errorCode).toBe(0);
    });
  });
});
