import { dialectCandidates, PROBE_BODY } from '../../../src/doctor/dialects';
import { encodeJson } from '../../../src/upstream/json-encoding';

const current = { jsonEncoding: 'php', signedHeadersFormat: 'object', emptyBody: '{}', signatureHeader: 'Authorization' } as const;

describe('doctor dialects', () => {
  it('try the current dialect first, each combination once', () => {
    const candidates = dialectCandidates({ ...current, signatureHeader: 'X-Sig' }, ['authorization', 'X-Other', 'x-sig']);
    expect(candidates[0]).toEqual({ ...current, signatureHeader: 'X-Sig' });
    expect(candidates).toHaveLength(2 * 2 * 3);
    expect(new Set(candidates.map((c) => JSON.stringify(c))).size).toBe(candidates.length);
    expect(new Set(candidates.map((c) => c.signatureHeader))).toEqual(new Set(['X-Sig', 'Authorization', 'X-Other']));
  });

  it('probe with a body whose two encodings differ', () => {
    expect(encodeJson(PROBE_BODY, 'php')).not.toBe(encodeJson(PROBE_BODY, 'standard'));
    expect(JSON.stringify(PROBE_BODY)).toMatch(/\//);
    expect([...JSON.stringify(PROBE_BODY)].some((c) => c.charCodeAt(0) > 0x7f)).toBe(true);
  });
});
