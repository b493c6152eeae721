import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { UpstreamAuthFailure, UpstreamFault, UpstreamTimeout, UpstreamUnreadable } from '../errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { KeyValueStore } from '../redis/key-value-store';
import type { TokenCipher } from '../crypto/token-cipher';
import { endpoint } from './catalogue';
import type { UpstreamAnswer, UpstreamCallInput, UpstreamClient } from './client';
import { ErrorCode } from './error-code';


/**
 * The back-end token every back-end endpoint is signed with. One token serves
 * every replica: it lives in the shared store, encrypted, and is fetched with
 * `auth/token` only when there is none or it is about to expire; concurrent
 * needs share one fetch (a promise within a process, a short lock across
 * replicas).
 */
export interface BackendToken {
  /** A live back-end token, renewed first when less than its renewal margin is left. */
  get(requestId: string): Promise<string>;
  /** Forgets `token` (the upstream refused it), here and in the store, unless it was already replaced. */
  invalidate(token: string): Promise<void>;
  /**
   * Calls a back-end endpoint signed with the back-end token. On errorCode 10
   * the token is dropped, renewed and the call retried once: the upstream
   * checks the token before doing anything, so a retried mutation is safe.
   */
  call(input: Omit<UpstreamCallInput, 'sub'>): Promise<UpstreamAnswer>;
}

export interface BackendTokenOptions {
  readonly store: KeyValueStore;
  readonly client: UpstreamClient;
  /** Prefix of every key this service writes (`REDIS_KEY_PREFIX`). */
  readonly keyPrefix: string;
  /** Seals the token at rest, so a dump of the store yields nothing usable. */
  readonly cipher: TokenCipher;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** `APM_TIMEOUT_MS`: bounds how long a fetch may hold the lock. */
  readonly upstreamTimeoutMs: number;
  /** How `auth/token`'s answer is read (`APM_BACKEND_TOKEN_*`); UPSTREAM.md's reading by default. */
  readonly answer?: BackendTokenAnswerReading;
  /** Milliseconds since the epoch; tests inject their own clock. Default `Date.now`. */
  readonly now?: () => number;
}

export interface BackendTokenAnswerReading {
  /** Path within `data` of the token. */
  readonly tokenField: readonly string[];
  /** Path within `data` of its life in seconds. */
  readonly expiresInField: readonly string[];
  /** Life assumed when the answer gives none. */
  readonly defaultTtlSeconds: number;
}

const UPSTREAM_READING: BackendTokenAnswerReading = { tokenField: ['token'], expiresInField: ['expiresIn'], defaultTtlSeconds: 300 };

/** The value at `path` within `data`, own properties only. */
function valueAt(data: unknown, path: readonly string[]): unknown {
  let value = data;
  for (const name of path) {
    if (typeof value !== 'object' || value === null || !Object.prototype.hasOwnProperty.call(value, name)) return undefined;
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

/**
 * How long before its expiry a token of this life is renewed: a tenth of its
 * life or 60 s, whichever is less (DESIGN.md).
 *
 * @example
 * renewalMarginMs(3_600_000) // 60_000
 * renewalMarginMs(10_000)    // 1_000
 */
export function renewalMarginMs(lifeMs: number): number {
  return Math.min(lifeMs / 10, 60_000);
}

interface TokenRecord {
  readonly token: string;
  /** Epoch ms when the upstream stops accepting it. */
  readonly expiresAt: number;
  /** Its whole life, for the renewal margin. */
  readonly lifeMs: number;
}

/** How many refused tokens are remembered, so a stale copy is never used again. */
const REFUSED_MEMORY = 16;

export function createBackendToken(options: BackendTokenOptions): BackendToken {
  const { store, client, cipher, logger, metrics } = options;
  const now = options.now ?? Date.now;
  const tokenKey = `${options.keyPrefix}backend-token`;
  const lockKey = `${options.keyPrefix}backend-token:lock`;
  // A fetch may be retried once on a reset connection: two timeouts, and some slack.
  const lockTtlMs = 2 * options.upstreamTimeoutMs + 1000;
  // A waiter outlives an abandoned lock, then fetches itself; beyond that it gives up.
  const waitLimitMs = lockTtlMs + options.upstreamTimeoutMs + 1000;
  const authToken = endpoint('auth/token');
  const reading = options.answer ?? UPSTREAM_READING;

  let current: TokenRecord | undefined;
  let inFlight: Promise<string> | undefined;
  const refused: string[] = [];

  const isRefused = (token: string): boolean => refused.includes(token);
  const isFresh = (record: TokenRecord): boolean => now() < record.expiresAt - renewalMarginMs(record.lifeMs) && !isRefused(record.token);

  function unseal(raw: string | null): TokenRecord | undefined {
    if (!raw) return undefined;
    const text = cipher.decrypt(raw);
    if (!text) return undefined; // another key, or tampered with: treated as absent
    try {
      const parsed = JSON.parse(text) as Partial<TokenRecord>;
      if (typeof parsed.token === 'string' && typeof parsed.expiresAt === 'number' && typeof parsed.lifeMs === 'number') {
        return { token: parsed.token, expiresAt: parsed.expiresAt, lifeMs: parsed.lifeMs };
      }
    } catch {
      // fall through
    }
    return undefined;
  }

  async function readShared(): Promise<TokenRecord | undefined> {
    const record = unseal(await store.get(tokenKey));
    return record && isFresh(record) ? record : undefined;
  }

  async function fetchToken(requestId: string): Promise<TokenRecord> {
    const started = now();
    let answer: UpstreamAnswer;
    try {
      answer = await client.call({ endpoint: authToken, sub: '', body: {}, requestId });
    } catch (err) {
      metrics.backendTokenRenewals.inc({ outcome: 'failed' });
      throw err;
    }
    if (answer.errorCode !== ErrorCode.Ok) {
      metrics.backendTokenRenewals.inc({ outcome: 'refused' });
      throw new UpstreamFault(`Upstream refused auth/token (errorCode ${answer.errorCode})`, authToken.path, 200, answer.errorCode);
    }
    const token = valueAt(answer.envelope.data, reading.tokenField);
    if (typeof token !== 'string' || token.length === 0) {
      metrics.backendTokenRenewals.inc({ outcome: 'unreadable' });
      throw new UpstreamUnreadable(`Upstream auth/token answer holds no token at data.${reading.tokenField.join('.')} (APM_BACKEND_TOKEN_FIELD)`, authToken.path);
    }
    const given = valueAt(answer.envelope.data, reading.expiresInField);
    const readable = typeof given === 'number' && Number.isFinite(given) && given > 0;
    // A token without a stated life is still usable: an assumed life too long costs one errorCode 10, then a renewal.
    const expiresIn = readable ? given : reading.defaultTtlSeconds;
    if (!readable) {
      logger.warn(
        { requestId, assumedExpiresIn: expiresIn },
        `upstream auth/token answer holds no life in seconds at data.${reading.expiresInField.join('.')} (APM_BACKEND_TOKEN_EXPIRES_IN_FIELD): assuming APM_BACKEND_TOKEN_DEFAULT_TTL_SECONDS`,
      );
    }
    metrics.backendTokenRenewals.inc({ outcome: 'ok' });
    // Counted from before the call: the upstream's clock started no later than ours.
    const lifeMs = expiresIn * 1000;
    logger.info({ requestId, expiresIn }, 'back-end token renewed');
    return { token, expiresAt: started + lifeMs, lifeMs };
  }

  async function share(record: TokenRecord): Promise<void> {
    // The store's own expiry is real time; the record's `expiresAt` decides freshness.
    const ttlMs = Math.max(1000, Math.ceil(record.expiresAt - now()));
    await store.set(tokenKey, cipher.encrypt(JSON.stringify(record)), { ttlMs });
  }

  /** Finds a fresh token in the store, or fetches one under the lock, or waits for the replica that does. */
  async function obtain(requestId: string): Promise<string> {
    const deadline = performance.now() + waitLimitMs;
    let pause = 20;
    for (;;) {
      const shared = await readShared();
      if (shared) return adopt(shared);
      const lockId = randomBytes(12).toString('base64url');
      if (await store.set(lockKey, lockId, { ttlMs: lockTtlMs, ifAbsent: true })) {
        try {
          // Another replica may have stored one between our read and our lock.
          const again = await readShared();
          if (again) return adopt(again);
          const record = await fetchToken(requestId);
          await share(record);
          return adopt(record);
        } finally {
          await store.deleteIfEquals(lockKey, lockId).catch(() => undefined);
        }
      }
      if (performance.now() + pause > deadline) {
        throw new UpstreamTimeout('The back-end token was not obtained in time (another replica holds the renewal lock)', authToken.path);
      }
      await sleep(pause);
      pause = Math.min(pause * 2, 250);
    }
  }

  function adopt(record: TokenRecord): string {
    if (!current || current.expiresAt <= record.expiresAt || !isFresh(current)) current = record;
    return record.token;
  }

  async function get(requestId: string): Promise<string> {
    // Bounded: a shared fetch may hand back a token refused meanwhile; then one more round.
    for (let round = 0; round < 3; round += 1) {
      if (current && isFresh(current)) return current.token;
      if (!inFlight) {
        inFlight = obtain(requestId).finally(() => {
          inFlight = undefined;
        });
      }
      const token = await inFlight;
      if (!isRefused(token)) return token;
    }
    throw new UpstreamFault('The upstream keeps refusing fresh back-end tokens', authToken.path, 401, ErrorCode.ExpiredBackendToken);
  }

  async function invalidate(token: string): Promise<void> {
    if (!isRefused(token)) {
      refused.push(token);
      if (refused.length > REFUSED_MEMORY) refused.shift();
    }
    if (current?.token === token) current = undefined;
    const raw = await store.get(tokenKey);
    // Only when the store still holds that very token: a replica may have renewed it already.
    if (raw && unseal(raw)?.token === token) await store.deleteIfEquals(tokenKey, raw);
  }

  async function call(input: Omit<UpstreamCallInput, 'sub'>): Promise<UpstreamAnswer> {
    const token = await get(input.requestId);
    try {
      return withoutToken(await client.call({ ...input, sub: token }), token, input.endpoint.path);
    } catch (err) {
      if (!(err instanceof UpstreamAuthFailure) || err.upstreamErrorCode !== ErrorCode.ExpiredBackendToken) throw err;
      logger.warn({ requestId: input.requestId, endpoint: input.endpoint.path }, 'back-end token refused (errorCode 10): renewing it and retrying once');
      await invalidate(token);
      const renewed = await get(input.requestId);
      try {
        return withoutToken(await client.call({ ...input, sub: renewed }), renewed, input.endpoint.path);
      } catch (second) {
        if (second instanceof UpstreamAuthFailure && second.upstreamErrorCode === ErrorCode.ExpiredBackendToken) await invalidate(renewed);
        throw second;
      }
    }
  }

  return { get, invalidate, call };
}

/** No back-end token may leave in an answer, whatever the upstream sent. */
function withoutToken(answer: UpstreamAnswer, token: string, path: string): UpstreamAnswer {
  if (answer.text.includes(token)) throw new UpstreamUnreadable(`Upstream answer to ${path} held a credential; not passed on`, path);
  return answer;
}
