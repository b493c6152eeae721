import type { Options } from 'express-rate-limit';
import { SessionStoreUnavailable } from '../../../src/errors';
import { noScriptReply, RecoveringRedisStore } from '../../../src/http/rate-limits';

/** A Redis that speaks only what rate-limit-redis sends, and can be down. */
function fakeRedis() {
  const state = { down: true, counts: new Map<string, number>() };
  const sendCommand = async (...args: string[]): Promise<string | number[]> => {
    if (state.down) throw new Error('Redis is not connected');
    if (args[0] === 'SCRIPT') return 'sha-increment';
    if (args[0] === 'EVALSHA') {
      const key = args[3]!;
      const n = (state.counts.get(key) ?? 0) + 1;
      state.counts.set(key, n);
      return [n, Number(args[4])];
    }
    throw new Error(`unexpected ${args[0]}`);
  };
  return { state, sendCommand };
}

describe('rate limits: the Redis store', () => {
  it('comes back by itself when Redis was down at start (its script is loaded again)', async () => {
    const redis = fakeRedis();
    const store = new RecoveringRedisStore({ sendCommand: redis.sendCommand, prefix: 'p:rl:ip:' });
    await expect(store.init({ windowMs: 60_000 } as Options)).rejects.toThrow('not connected');
    await expect(store.increment('1.2.3.4')).rejects.toThrow('not connected');
    redis.state.down = false;
    // The failed count loaded the script again in the background; the next ones count.
    await new Promise((r) => setImmediate(r));
    expect((await store.increment('1.2.3.4')).totalHits).toBe(1);
    expect((await store.increment('1.2.3.4')).totalHits).toBe(2);
    expect(redis.state.counts.get('p:rl:ip:1.2.3.4')).toBe(2);
  });

  it('does not raise an unhandled rejection while Redis stays down', async () => {
    const redis = fakeRedis();
    const store = new RecoveringRedisStore({ sendCommand: redis.sendCommand, prefix: 'p:' });
    const unhandled = jest.fn();
    process.on('unhandledRejection', unhandled);
    try {
      await store.init({ windowMs: 1000 } as Options).catch(() => undefined);
      for (let i = 0; i < 3; i += 1) await expect(store.increment('k')).rejects.toThrow();
      await new Promise((r) => setTimeout(r, 10));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});

describe('rate limits: a script lost by a Redis restart', () => {
  it('is recognised behind the store\'s wrapping, so rate-limit-redis loads it again', () => {
    const reply = new Error('NOSCRIPT No matching script. Please use EVAL.');
    expect(noScriptReply(new SessionStoreUnavailable('Redis command failed (evalsha)', { cause: reply }))).toBe(reply);
    expect(noScriptReply(reply)).toBe(reply);
    expect(noScriptReply(new SessionStoreUnavailable('Redis is not connected (evalsha)'))).toBeUndefined();
    expect(noScriptReply('NOSCRIPT')).toBeUndefined();
  });
});
