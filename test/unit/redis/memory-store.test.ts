import { createMemoryStore } from '../../../src/redis/memory-store';

describe('in-process store (no REDIS_URL)', () => {
  it('expires entries', async () => {
    const s = createMemoryStore(10);
    await s.set('a', '1', { ttlMs: 30 });
    expect(await s.get('a')).toBe('1');
    await new Promise((r) => setTimeout(r, 60));
    expect(await s.get('a')).toBeNull();
  });

  it('stays bounded: past its size the least recently used entry goes', async () => {
    const s = createMemoryStore(100);
    for (let i = 0; i < 1000; i += 1) await s.set(`k${i}`, 'v', { ttlMs: 60_000 });
    let present = 0;
    for (let i = 0; i < 1000; i += 1) if ((await s.get(`k${i}`)) !== null) present += 1;
    expect(present).toBe(100);
    expect(await s.get('k999')).toBe('v');
    expect(await s.get('k0')).toBeNull();
  });

  it('supports locks, compare-and-delete and sets', async () => {
    const s = createMemoryStore();
    expect(await s.set('lock', 'me', { ttlMs: 1000, ifAbsent: true })).toBe(true);
    expect(await s.set('lock', 'you', { ttlMs: 1000, ifAbsent: true })).toBe(false);
    expect(await s.deleteIfEquals('lock', 'you')).toBe(false);
    expect(await s.deleteIfEquals('lock', 'me')).toBe(true);
    expect(await s.setAdd('set', 'a', 1000)).toBe(1);
    expect(await s.setAdd('set', 'b', 1000)).toBe(2);
    expect(await s.setAdd('set', 'b', 1000)).toBe(2);
    expect((await s.setMembers('set')).sort()).toEqual(['a', 'b']);
    await s.setRemove('set', ['a']);
    expect(await s.setMembers('set')).toEqual(['b']);
    expect(await s.del(['set', 'missing'])).toBe(1);
  });
});
