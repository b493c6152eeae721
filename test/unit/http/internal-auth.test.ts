import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { InternalApiKey } from '../../../src/config/settings';
import { callerKeyIdOf, internalAuth, InvalidApiKey, keyFingerprint } from '../../../src/http/internal-auth';
import { requestContextOf } from '../../../src/http/request-context';

const NAMED: InternalApiKey = { id: 'billing', key: 'billing-key-0123456789abcdefghij' };
const BARE: InternalApiKey = { id: undefined, key: 'bare-key-0123456789abcdefghijklm' };

interface Outcome {
  readonly error: unknown;
  readonly callerKeyId: string | undefined;
  readonly headers: Record<string, string>;
}

function run(keys: readonly InternalApiKey[], authorization: string | undefined): Outcome {
  const middleware = internalAuth(keys);
  const headers: Record<string, string> = {};
  const req = { headers: authorization === undefined ? {} : { authorization } } as unknown as Request;
  const res = {
    setHeader(name: string, value: string) {
      headers[name.toLowerCase()] = value;
      return this;
    },
  } as unknown as Response;
  let error: unknown = 'next was not called';
  middleware(req, res, (err?: unknown) => {
    error = err;
  });
  return { error, callerKeyId: requestContextOf(res).callerKeyId, headers };
}

describe('keyFingerprint', () => {
  it('is the first 8 characters of the base64url SHA-256, labelled, and never the key', () => {
    const expected = createHash('sha256').update(BARE.key).digest('base64url').slice(0, 8);
    expect(keyFingerprint(BARE.key)).toBe(`sha256:${expected}`);
    expect(keyFingerprint(BARE.key)).not.toContain(BARE.key.slice(0, 8));
    expect(keyFingerprint(NAMED.key)).not.toBe(keyFingerprint(BARE.key));
  });

  it("names a key by its entry's name, else by its fingerprint", () => {
    expect(callerKeyIdOf(NAMED)).toBe('billing');
    expect(callerKeyIdOf(BARE)).toBe(keyFingerprint(BARE.key));
  });
});

describe('internalAuth', () => {
  it('accepts every configured key and records its id', () => {
    const named = run([NAMED, BARE], `Bearer ${NAMED.key}`);
    expect(named.error).toBeUndefined();
    expect(named.callerKeyId).toBe('billing');
    const bare = run([NAMED, BARE], `Bearer ${BARE.key}`);
    expect(bare.error).toBeUndefined();
    expect(bare.callerKeyId).toBe(keyFingerprint(BARE.key));
  });

  it('takes the scheme case-insensitively', () => {
    expect(run([NAMED], `bearer ${NAMED.key}`).error).toBeUndefined();
    expect(run([NAMED], `BEARER ${NAMED.key}`).error).toBeUndefined();
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['another scheme', `Basic ${NAMED.key}`],
    ['no key', 'Bearer '],
    ['the bare key without a scheme', NAMED.key],
    ['a wrong key', 'Bearer not-one-of-the-configured-keys-at-all'],
    ['a key with one more character', `Bearer ${NAMED.key}x`],
    ['a prefix of a key', `Bearer ${NAMED.key.slice(0, -1)}`],
    ['the name instead of the key', 'Bearer billing'],
    ['the name:key entry', `Bearer billing:${NAMED.key}`],
    ['two keys', `Bearer ${NAMED.key} ${BARE.key}`],
    ['a very long credential', `Bearer ${'k'.repeat(5000)}`],
  ])('refuses %s with 401 and a challenge', (_label, header) => {
    const out = run([NAMED, BARE], header);
    expect(out.error).toBeInstanceOf(InvalidApiKey);
    expect((out.error as InvalidApiKey).status).toBe(401);
    expect(out.headers['www-authenticate']).toMatch(/^Bearer realm=/);
    expect(out.callerKeyId).toBeUndefined();
  });

  it('refuses every call when no key is configured', () => {
    expect(run([], `Bearer ${NAMED.key}`).error).toBeInstanceOf(InvalidApiKey);
    expect(run([], undefined).error).toBeInstanceOf(InvalidApiKey);
  });

  it('a removed key no longer works', () => {
    expect(run([NAMED, BARE], `Bearer ${BARE.key}`).error).toBeUndefined();
    expect(run([NAMED], `Bearer ${BARE.key}`).error).toBeInstanceOf(InvalidApiKey);
  });

  it('never puts the key in its error', () => {
    const out = run([NAMED], `Bearer ${NAMED.key}zz`);
    expect(JSON.stringify({ message: (out.error as Error).message, headers: out.headers })).not.toContain(NAMED.key);
  });
});
