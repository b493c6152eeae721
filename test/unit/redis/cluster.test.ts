import { keyOfCommand } from '../../../src/redis/cluster';

/** The slot rules themselves are checked against Redis' own CLUSTER KEYSLOT: test/integration/cluster-slots.test.ts. */
describe('cluster routing', () => {
  it('keyOfCommand: the key a library command acts on', () => {
    expect(keyOfCommand(['EVALSHA', 'abc', '1', 'k1', '60000'])).toBe('k1');
    expect(keyOfCommand(['EVAL', 'return 1', '0'])).toBeUndefined();
    expect(keyOfCommand(['script', 'load', 'return 1'])).toBeUndefined();
    expect(keyOfCommand(['DEL', 'k2'])).toBe('k2');
  });
});
