import { randomBytes } from 'node:crypto';
import { startSandbox, type Sandbox, type SandboxReadings } from '../../../src/sandbox';
import { connectUser, makeCaller, type Caller } from '../../helpers/raw-sign';

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

  it('emptyBody {} or [] wants that text for a body without parameters, and refuses the other (9)', async () => {
    await withSandbox({ emptyBody: '[]' }, async (call) => {
      expect((await call('partner/getprog', { bodyText: '[]' })).json?.errorCode).toBe(0);
      const res = await call('partner/getprog', { bodyText: '{}' });
      expect({ status: res.status, errorCode: res.json?.errorCode, errorMsg: res.json?.errorMsg }).toEqual({ status: 401, errorCode: 9, errorMsg: 'signature mismatch: a body without parameters must be []' });
      // A body with parameters is not concerned.
      expect((await call('partner/getprog', { bodyObj: { lang: 'fr' } })).json?.errorCode).toBe(0);
    });
    await withSandbox({ emptyBody: '{}' }, async (call) => {
      expect((await call('partner/getprog', { bodyText: '{}' })).json?.errorCode).toBe(0);
      expect((await call('partner/getprog', { bodyText: '[]' })).json?.errorCode).toBe(9);
    });
    await withSandbox({}, async (call) => {
      expect((await call('partner/getprog', { bodyText: '{}' })).json?.errorCode).toBe(0);
      expect((await call('partner/getprog', { bodyText: '[]' })).json?.errorCode).toBe(0);
    });
  });

  it('refuses a reading it does not know when it is built', async () => {
    await expect(startSandbox({ partners: [{ id: partnerId, secret }], readings: { emptyBody: 'null' as '{}' } })).rejects.toThrow(/readings\.emptyBody must be one of/);
    await expect(startSandbox({ partners: [{ id: partnerId, secret }], readings: { jsonEncoding: 'PHP' as 'php' } })).rejects.toThrow(/readings\.jsonEncoding/);
    await expect(startSandbox({ partners: [{ id: partnerId, secret }], readings: { signatureHeader: 'X Sig' } })).rejects.toThrow(/signatureHeader/);
  });
});

describe('sandbox: its clock', () => {
  it('answers with its own clock as the Date header, the one iat is checked against', async () => {
    // A fixed clock years ahead of this machine's: what the simulator answers is its clock, exactly.
    const simulatorNow = Date.UTC(2031, 4, 6, 7, 8, 9);
    const sandbox = await startSandbox({ partners: [{ id: partnerId, secret }], now: () => simulatorNow });
    try {
      const call = makeCaller(sandbox.url, { partnerId, secret });
      const res = await fetch(`${sandbox.url}partner/getprog`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      expect(res.headers.get('date')).toBe(new Date(simulatorNow).toUTCString());
      // Signed with this machine's clock, far behind the simulator's: stale.
      expect((await call('partner/getprog')).json?.errorCode).toBe(8);
    } finally {
      await sandbox.close();
    }
  });
});
