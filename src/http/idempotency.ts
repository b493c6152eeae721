import { createHash, randomBytes } from 'node:crypto';
import type { Settings } from '../config/settings';
import {
  BadRequest,
  ServiceError,
  ServiceUnavailable,
  SessionStoreUnavailable,
  UpstreamAuthFailure,
  UpstreamCircuitOpen,
  UpstreamError,
  UpstreamTimeout,
  UpstreamUnreachable,
} from '../errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { KeyValueStore } from '../redis/key-value-store';
import type { HttpAnswer } from './answer';
import { problemFor } from './problem';

/**
 * Idempotency-Key handling of the mutations that accept one: the first
 * answer is stored and replayed; a concurrent repeat gets 409; the same key
 * with another body gets 422; the upstream is reached at most once per key.
 */
export interface Idempotency {
  run(scope: string, key: string, fingerprint: string, exec: () => Promise<HttpAnswer>, requestId: string): Promise<HttpAnswer>;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

/**
 * The caller's `Idempotency-Key` header, checked (1-128 printable ASCII
 * characters), or undefined when absent.
 */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) throw new BadRequest('Idempotency-Key must be 1-128 printable ASCII characters.');
  return header;
}

/** Identifies a request for the same-key-other-body check (422). */
export function requestFingerprint(path: string, input: Readonly<Record<string, unknown>>): string {
  return createHash('sha256').update(`${path}\n${JSON.stringify(input)}`).digest('base64url');
}

/** A repeat of a key whose first request is still running. */
export class IdempotencyInFlight extends ServiceError {
  readonly code = 'ERR_IDEMPOTENCY_IN_FLIGHT';
  readonly status = 409;
  readonly title = 'Request in progress';
  override get retryAfterSeconds(): number {
    return 1;
  }
}

/** The same key sent with another request body. */
export class IdempotencyKeyReused extends ServiceError {
  readonly code = 'ERR_IDEMPOTENCY_KEY_REUSED';
  readonly status = 422;
  readonly title = 'Idempotency-Key reused with another request';
}

/**
 * The request was sent upstream but no answer confirmed whether it was
 * applied (a timeout or a lost connection after sending, a fault answer). The
 * key is spent: it will never reach the upstream again.
 */
export class UpstreamOutcomeUnknown extends ServiceError {
  readonly code = 'ERR_OUTCOME_UNKNOWN';
  readonly status = 504;
  readonly title = 'Outcome unknown';
}

export type UpstreamOutcome = 'not-sent' | 'unknown';

/** Transport failures that happen before a single byte of the request left: connection never made. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ERR_INVALID_URL']);

/**
 * What a failed `exec` means for the key. `not-sent`: nothing was applied
 * upstream (Redis or the circuit refused first, the connection was refused,
 * the upstream refused our signature, or it refused the user with a business
 * answer turned into an error such as errorCode 3): the key is released and a
 * retry may proceed. `unknown`: the request may have been applied (timeout,
 * reset after sending, a 5xx or unreadable answer, anything unexpected): the
 * key must never lead to a second call.
 */
export function outcomeOfFailure(err: unknown): UpstreamOutcome {
  if (err instanceof UpstreamTimeout) return 'unknown';
  if (err instanceof UpstreamUnreachable) {
    const code = (err.cause as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' && NOT_SENT_CODES.has(code) ? 'not-sent' : 'unknown';
  }
  if (err instanceof UpstreamAuthFailure || err instanceof UpstreamCircuitOpen) return 'not-sent';
  if (err instanceof UpstreamError) return 'unknown';
  if (err instanceof SessionStoreUnavailable || err instanceof ServiceUnavailable) return 'not-sent';
  if (err instanceof ServiceError && err.status < 500) return 'not-sent';
  return 'unknown';
}

interface PendingRecord {
  readonly state: 'pending';
  readonly fingerprint: string;
  /** Makes this claim's value unique, so only its owner can release it. */
  readonly token: string;
  readonly requestId: string;
  /** Past this (epoch ms) the first request is presumed dead: its outcome is unknown. */
  readonly leaseUntil: number;
}

interface DoneRecord {
  readonly state: 'done';
  readonly fingerprint: string;
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
  readonly errorCode?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

type IdempotencyRecord = PendingRecord | DoneRecord;

export interface IdempotencyOptions {
  readonly settings: Settings;
  readonly store: KeyValueStore;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Epoch ms; tests inject their own clock. */
  readonly now?: () => number;
}

const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

function parseRecord(text: string | null): IdempotencyRecord | undefined {
  if (text === null) return undefined;
  try {
    const r = JSON.parse(text) as IdempotencyRecord;
    if ((r.state === 'pending' || r.state === 'done') && typeof r.fingerprint === 'string') return r;
  } catch {
    // unreadable: treated as absent below
  }
  return undefined;
}

/** The stored form of an error answer: the problem document the error handler would send. */
function problemAnswer(err: ServiceError, requestId: string): HttpAnswer {
  const retry = err.retryAfterSeconds;
  return {
    status: err.status,
    body: JSON.stringify(problemFor(err, requestId)),
    contentType: PROBLEM_TYPE,
    ...(retry !== undefined ? { headers: { 'Retry-After': String(retry) } } : {}),
  };
}

function unknownOutcome(cause: unknown): UpstreamOutcomeUnknown {
  const what = cause instanceof UpstreamError ? cause.endpoint : 'the request';
  const why =
    cause instanceof UpstreamTimeout
      ? 'the upstream did not answer in time'
      : cause instanceof UpstreamUnreachable
        ? 'the connection was lost after sending'
        : cause instanceof UpstreamError
          ? 'the upstream failed while handling it'
          : 'the request failed after it may have been sent';
  return new UpstreamOutcomeUnknown(
    `Whether ${what} was applied is unknown (${why}). This Idempotency-Key will not be sent upstream again: check the history (user/historyearns, user/historyburns) before retrying with a new Idempotency-Key.`,
    { cause },
  );
}

/**
 * Idempotency records in Redis (or the in-process store), shared by every
 * replica. `scope` keeps callers apart (`u:<partnerClientId>` for users,
 * `k:<key id>` for partner services); `fingerprint` identifies the request.
 *
 * 1. Claim: `SET NX` of a pending record (lifetime `IDEMPOTENCY_TTL_SECONDS`).
 *    Redis failing here → 503, nothing sent, nothing held.
 * 2. The claimer calls `exec` (the upstream) once:
 *    - an answer (success or business refusal) is stored and replayed for
 *      24 h with the same status and body (plus `Idempotent-Replayed: true`);
 *    - a failure known to have happened before anything was applied
 *      (`outcomeOfFailure` → `not-sent`: Redis down, circuit open, connection
 *      refused, signature refused, the user's session refused) releases the
 *      key, so a retry with it may proceed;
 *    - any other failure (timeout or reset after sending, 5xx, unreadable
 *      answer) makes the outcome UNKNOWN: a 504 problem `ERR_OUTCOME_UNKNOWN`
 *      is stored and answered, to the first request and to every repeat, and
 *      the key never reaches the upstream again. Its detail tells the user to
 *      check the history before retrying with a new key.
 * 3. A repeat finds the record: another fingerprint → 422; pending → 409
 *    (Retry-After: 1); pending past its lease (the first request's replica
 *    died mid-call) → the same unknown-outcome answer; done → replay.
 *
 * @example
 * const idempotency = createIdempotency({ settings, store, metrics, logger });
 * const answer = await idempotency.run(`u:${user}`, key, fingerprint, () => forward(), requestId);
 */
export function createIdempotency(options: IdempotencyOptions): Idempotency {
  const { settings, store, metrics, logger } = options;
  const clock = options.now ?? Date.now;
  const ttlMs = settings.idempotencyTtlSeconds * 1000;
  const recordPrefix = `${settings.redis.keyPrefix}idem:`;
  // The longest a first request may run: a mutation is never retried, so one upstream timeout and our own work.
  const leaseMs = settings.upstreamTimeoutMs + 10_000;

  // Hashed: keys are the caller's text and scopes hold user ids, neither belongs in a Redis key as is.
  const recordKeyOf = (scope: string, key: string): string => `${recordPrefix}${createHash('sha256').update(`${scope}\n${key}`).digest('base64url')}`;

  async function save(recordKey: string, fingerprint: string, answer: HttpAnswer): Promise<void> {
    const record: DoneRecord = {
      state: 'done',
      fingerprint,
      status: answer.status,
      body: answer.body,
      contentType: answer.contentType,
      ...(answer.errorCode !== undefined ? { errorCode: answer.errorCode } : {}),
      ...(answer.headers ? { headers: answer.headers } : {}),
    };
    try {
      await store.set(recordKey, JSON.stringify(record), { ttlMs });
    } catch (err) {
      // The upstream was called; the pending record stays, so repeats get 409 and then the
      // unknown-outcome answer: never a second call.
      logger.error({ err: { message: (err as Error).message } }, 'idempotency: the answer could not be stored; repeats of this key will answer "outcome unknown"');
    }
  }

  function replay(record: DoneRecord): HttpAnswer {
    return {
      status: record.status,
      body: record.body,
      contentType: record.contentType,
      ...(record.errorCode !== undefined ? { errorCode: record.errorCode } : {}),
      headers: { ...record.headers, 'Idempotent-Replayed': 'true' },
    };
  }

  async function first(recordKey: string, pending: string, fingerprint: string, exec: () => Promise<HttpAnswer>, requestId: string): Promise<HttpAnswer> {
    metrics.idempotency.inc({ result: 'first' });
    let answer: HttpAnswer;
    try {
      answer = await exec();
    } catch (err) {
      if (outcomeOfFailure(err) === 'not-sent') {
        metrics.idempotency.inc({ result: 'released' });
        await store.deleteIfEquals(recordKey, pending).catch((cause: unknown) => {
          logger.warn({ err: { message: (cause as Error).message } }, 'idempotency: a key could not be released; its repeats will answer 409, then "outcome unknown"');
        });
        throw err;
      }
      metrics.idempotency.inc({ result: 'unknown' });
      const unknown = unknownOutcome(err);
      logger.warn({ requestId, err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'idempotency: upstream outcome unknown; the key is spent');
      await save(recordKey, fingerprint, problemAnswer(unknown, requestId));
      throw unknown;
    }
    await save(recordKey, fingerprint, answer);
    return answer;
  }

  function repeat(record: IdempotencyRecord, fingerprint: string): HttpAnswer {
    if (record.fingerprint !== fingerprint) {
      metrics.idempotency.inc({ result: 'mismatch' });
      throw new IdempotencyKeyReused('This Idempotency-Key was used with another request body; use a new key for a new request.');
    }
    if (record.state === 'done') {
      metrics.idempotency.inc({ result: 'replayed' });
      return replay(record);
    }
    if (clock() < record.leaseUntil) {
      metrics.idempotency.inc({ result: 'in-flight' });
      throw new IdempotencyInFlight('The first request with this Idempotency-Key is still in progress; retry shortly.');
    }
    metrics.idempotency.inc({ result: 'unknown' });
    return problemAnswer(unknownOutcome(undefined), record.requestId);
  }

  return {
    async run(scope, key, fingerprint, exec, requestId) {
      const recordKey = recordKeyOf(scope, key);
      const pending = JSON.stringify({
        state: 'pending',
        fingerprint,
        token: randomBytes(12).toString('base64url'),
        requestId,
        leaseUntil: clock() + leaseMs,
      } satisfies PendingRecord);
      // Two rounds: a record may expire or be released between our SET NX and GET.
      for (let round = 0; round < 2; round += 1) {
        let claimed: boolean;
        try {
          claimed = await store.set(recordKey, pending, { ttlMs, ifAbsent: true });
        } catch (err) {
          // Redis may have applied the SET before failing to answer: undo our claim, best effort.
          await store.deleteIfEquals(recordKey, pending).catch(() => false);
          throw err;
        }
        if (claimed) return first(recordKey, pending, fingerprint, exec, requestId);
        const existing = parseRecord(await store.get(recordKey));
        if (existing) return repeat(existing, fingerprint);
      }
      metrics.idempotency.inc({ result: 'in-flight' });
      throw new IdempotencyInFlight('The first request with this Idempotency-Key is still in progress; retry shortly.');
    },
  };
}
