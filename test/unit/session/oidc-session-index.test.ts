import calculateSlot from 'cluster-key-slot';
import { hashTag, type KeyValueStore } from '../../../src/redis/key-value-store';
import { createMemoryStore } from '../../../src/redis/memory-store';
import { createOidcSessionIndex } from '../../../src/session/oidc-session-index';

/** A store that notes the keys of the sets written, so the test can read their hash tags. */
function recording(store: KeyValueStore): { store: KeyValueStore; keys: string[] } {
  const keys: string[] = [];
  return {
    keys,
    store: {
      ...store,
      setAdd: (key, member, ttlMs) => {
        keys.push(key);
        return store.setAdd(key, member, ttlMs);
      },
    },
  };
}

function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('OpenID Connect session index', () => {
  it('hashes its keys on the whole sid and sub, braces and all', async () => {
    const { store, keys } = recording(createMemoryStore());
    const index = createOidcSessionIndex(store, 'p:', 60_000);
    await index.add({ sid: 'sid{1}x', sub: 'team}a{b' }, 's1');
    expect(keys).toHaveLength(2);
    expect(keys.map(hashTagOf).sort()).toEqual([hashTag('sid{1}x'), hashTag('team}a{b')].sort());
    for (const key of keys) expect(calculateSlot(key)).toBe(calculateSlot(hashTagOf(key)));
  });

  it('keeps the sessions of ids that differ only after a brace apart', async () => {
    const index = createOidcSessionIndex(createMemoryStore(), 'p:', 60_000);
    await index.add({ sid: 'x}1', sub: 'u}1' }, 's1');
    await index.add({ sid: 'x}2', sub: 'u}2' }, 's2');
    expect(await index.sessionsOf({ sid: 'x}1' })).toEqual(['s1']);
    expect(await index.sessionsOf({ sub: 'u}2' })).toEqual(['s2']);
    await index.forget({ sid: 'x}1' }, ['s1']);
    expect(await index.sessionsOf({ sid: 'x}1' })).toEqual([]);
    expect(await index.sessionsOf({ sid: 'x}2' })).toEqual(['s2']);
  });

  it('takes a jti once', async () => {
    const index = createOidcSessionIndex(createMemoryStore(), 'p:', 60_000);
    expect(await index.firstUseOf('j1', 60_000)).toBe(true);
    expect(await index.firstUseOf('j1', 60_000)).toBe(false);
  });
});
