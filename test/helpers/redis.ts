import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';

/** The Redis URL found by the global set-up. */
export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: the Jest global set-up did not find a Redis.');
  return url;
}

/** A key prefix of this test's own, so that parallel runs never collide. */
export function uniquePrefix(label = 't'): string {
  return `test:${label}:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under a prefix; tests call it when they finish. */
export async function dropPrefix(prefix: string): Promise<void> {
  const client = createClient({ url: testRedisUrl() });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) keys.push(...batch);
    if (keys.length) await client.del(keys);
  } finally {
    await client.close();
  }
}
