import { hashSlot, keyOfCommand } from '../../../src/redis/connection';

describe('cluster routing helpers', () => {
  it('hashSlot: CRC16/XMODEM mod 16384 of the hash tag, as the cluster specification', () => {
    expect(hashSlot('123456789')).toBe(12739);
    expect(hashSlot('')).toBe(0);
    expect(hashSlot('user:{1000}:sessions')).toBe(hashSlot('1000'));
    expect(hashSlot('{}whole')).toBe(hashSlot('{}whole')); // an empty tag hashes the whole key
    expect(hashSlot('{}whole')).not.toBe(hashSlot(''));
    expect(hashSlot('a{b')).not.toBe(hashSlot('b'));
    expect(hashSlot('miles:cache:{partner/getprog|fr}')).toBe(hashSlot('miles:cache-lock:{partner/getprog|fr}'));
  });

  it('keyOfCommand: the key a library command acts on', () => {
    expect(keyOfCommand(['EVALSHA', 'abc', '1', 'k1', '60000'])).toBe('k1');
    expect(keyOfCommand(['EVAL', 'return 1', '0'])).toBeUndefined();
    expect(keyOfCommand(['script', 'load', 'return 1'])).toBeUndefined();
    expect(keyOfCommand(['DEL', 'k2'])).toBe('k2');
  });
});
