import { createHash, randomBytes } from 'node:crypto';
import type { Settings } from '../config/settings';
import { BadRequest, ServiceError, UpstreamError, type CallOutcome } from '../errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { KeyValueStore } from '../redis/key-value-store';
import type { HttpAnswer } from '../upstream/http-answer';
import { problemFor } from './problem';

/**
 * Idempotency-Key handling of the mutations that accept one: the first
 * answer is stored and replayed; a concurrent repeat gets 409; the same key
 * with another body gets 422; the upstream is reached at most once per key.
 */
export interface Idempotency {
  run(scope: string, key: string, fingerprint: string, exec: () => Promise<HttpAnswer>, requestId: string, options?: IdempotencyRunOptions): Promise<HttpAnswer>;
}

/**
 * For a request the upstream itself refuses to apply twice (an earn whose `param1` the upstream
 * keeps unique: a duplicate is errorCode 7), an unknown outcome can be settled by sending it
 * again: a 7 proves the first was applied, a success proves it was not.
 */
export interface UnknownOutcomeResolution {
  /** Whether this request may be sent again to settle its unknown outcome; asked only then. */
  qualifies(): Promise<boolean>;
  /** The answer for what the upstream answered to the request sent again (a 7 → the success it proves). */
  settle(answer: HttpAnswer): HttpAnswer;
}

export interface IdempotencyRunOptions {
  readonly resolution?: UnknownOutcomeResolution;
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

/**
 * What a failed `exec` means for the key, as the error itself says (`applied`, errors.ts).
 * `not-sent`: nothing was applied upstream (Redis or the circuit refused first, the connection
 * was refused, TLS failed, the upstream refused our signature, it refused the user with a
 * business answer turned into an error such as errorCode 3, or a proxy in front of it answered
 * a status of UPSTREAM_NOT_APPLIED_STATUSES): the key is released and a retry may proceed.
 * `unknown`: the request may have been applied (timeout, reset after sending, another 5xx, an
 * errorCode 99, an unreadable answer, anything unexpected): the key must never lead to a second
 * call (but see `UnknownOutcomeResolution`).
 */
export function outcomeOfFailure(err: unknown): UpstreamOutcome {
  return err instanceof ServiceError && err.applied === 'no' ? 'not-sent' : 'unknown';
}

/**
 * The key is taken, nothing is sent yet. Short-lived (`claimMs`), and any repeat may take it
 * over: its owner sends only after turning it into a `PendingRecord` with a compare-and-set,
 * which fails once the claim was taken over or has expired.
 */
interface ClaimedRecord {
  readonly state: 'claimed';
  readonly fingerprint: string;
  /** Makes this claim's value unique: the fencing token of its owner. */
  readonly token: string;
  readonly requestId: string;
}

/** The request is leaving (or has left) for the upstream. */
interface PendingRecord {
  readonly state: 'pending';
  readonly fingerprint: string;
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
  /** The answer is the unknown-outcome problem: a request that qualifies may settle it. */
  readonly unknown?: true;
}

type IdempotencyRecord = ClaimedRecord | PendingRecord | DoneRecord;

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
    if ((r.state === 'claimed' || r.state === 'pending' || r.state === 'done') && typeof r.fingerprint === 'string') return r;
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

/** Why an upstream call's outcome is unknown, by the call's outcome label. */
const UNKNOWN_BECAUSE: Partial<Record<CallOutcome, string>> = {
  timeout: 'the upstream did not answer in time',
  unreachable: 'the connection was lost after sending',
};

function unknownOutcome(cause: unknown): UpstreamOutcomeUnknown {
  const what = cause instanceof UpstreamError ? cause.endpoint : 'the request';
  const why =
    cause instanceof ServiceError && cause.upstreamReached
      ? (UNKNOWN_BECAUSE[cause.callOutcome] ?? 'the upstream failed while handling it')
      : 'the request failed after it may have been sent';
  return new UpstreamOutcomeUnknown(
    `Whether ${what} was applied is unknown (${why}). This Idempotency-Key will not be sent upstream again: check the history (user/historyearns, user/historyburns) before retrying with a new Idempotency-Key.`,
    { cause },
  );
}

const inFlight = (): IdempotencyInFlight => new IdempotencyInFlight('The first request with this Idempotency-Key is still in progress; retry shortly.');

/**
 * Idempotency records in Redis (or the in-process store), shared by every
 * replica. `scope` keeps callers apart (`u:<partnerClientId>` for users,
 * `k:<key id>` for partner services); `fingerprint` identifies the request.
 *
 * 1. Claim: `SET NX` of a short-lived claimed record (`REDIS_COMMAND_TIMEOUT_MS`).
 *    Redis failing here → 503, nothing sent.
 * 2. Just before the call, the claim becomes a pending record (lifetime
 *    `IDEMPOTENCY_TTL_SECONDS`) by compare-and-set on the claimer's token.
 *    Only a claimer whose compare-and-set Redis acknowledged sends. Any
 *    failure here → 503, nothing sent. A claim or a pending record that Redis
 *    applies after we gave up on it (a stalled Redis answers late) is thus
 *    never followed by a call, and never reads as "sent": a claim expires
 *    within `REDIS_COMMAND_TIMEOUT_MS` and any repeat may take it over; a
 *    pending record written too late finds its claim gone; and both are
 *    deleted in the background as soon as Redis answers again.
 * 3. The claimer calls `exec` (the upstream) once:
 *    - an answer (success or business refusal) is stored and replayed for
 *      24 h with the same status and body (plus `Idempotent-Replayed: true`);
 *    - a failure known to have happened before anything was applied
 *      (`outcomeOfFailure` → `not-sent`) releases the key, so a retry with it
 *      may proceed;
 *    - any other failure (timeout or reset after sending, 5xx, unreadable
 *      answer) makes the outcome UNKNOWN: a 504 problem `ERR_OUTCOME_UNKNOWN`
 *      is stored and answered, to the first request and to every repeat, and
 *      the key never reaches the upstream again, unless the request qualifies
 *      for a resolution (see `UnknownOutcomeResolution`). Its detail tells the
 *      user to check the history before retrying with a new key.
 * 4. A repeat finds the record: another fingerprint → 422; claimed → it takes
 *    the claim over; pending → 409 (Retry-After: 1); pending past its lease
 *    (the first request's replica died mid-call) → the unknown-outcome
 *    answer; done → replay. A repeat of an unknown outcome that qualifies for
 *    a resolution sends the request again instead, once at a time.
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
  // A claim lives no longer than a command may take: one applied after its claimer gave up on it is gone before
  // the claimer's own deadline for the next step has passed, so it can never be turned into a pending record late.
  const claimMs = settings.redis.commandTimeoutMs;

  // Hashed: keys are the caller's text and scopes hold user ids, neither belongs in a Redis key as is.
  const recordKeyOf = (scope: string, key: string): string => `${recordPrefix}${createHash('sha256').update(`${scope}\n${key}`).digest('base64url')}`;

  const claimOf = (fingerprint: string, requestId: string): string =>
    JSON.stringify({ state: 'claimed', fingerprint, token: randomBytes(12).toString('base64url'), requestId } satisfies ClaimedRecord);

  /**
   * Deletes records of ours that no call followed, whenever Redis answers again: a stalled Redis
   * refuses every command at first, and may apply our earlier writes only later. Only our own
   * values are deleted (compare-and-delete), so nothing another request wrote is touched.
   */
  function releaseLater(recordKey: string, values: readonly string[]): void {
    const until = clock() + leaseMs;
    const attempt = async (delayMs: number): Promise<void> => {
      try {
        for (const value of values) await store.deleteIfEquals(recordKey, value);
        return;
      } catch {
        if (clock() >= until) {
          logger.warn('idempotency: a key no call followed could not be released; its claim expires by itself, a pending record answers "outcome unknown"');
          return;
        }
      }
      setTimeout(() => void attempt(Math.min(delayMs * 2, 1000)), delayMs).unref();
    };
    void attempt(100);
  }

  async function save(recordKey: string, fingerprint: string, answer: HttpAnswer, unknown = false): Promise<void> {
    const record: DoneRecord = {
      state: 'done',
      fingerprint,
      status: answer.status,
      body: answer.body,
      contentType: answer.contentType,
      ...(answer.errorCode !== undefined ? { errorCode: answer.errorCode } : {}),
      ...(answer.headers ? { headers: answer.headers } : {}),
      ...(unknown ? { unknown: true as const } : {}),
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

  /** Holds the claim `claim`: turns it into a pending record, then calls the upstream once. */
  async function first(recordKey: string, claim: string, fingerprint: string, exec: () => Promise<HttpAnswer>, requestId: string, settle?: (a: HttpAnswer) => HttpAnswer): Promise<HttpAnswer> {
    const { token } = JSON.parse(claim) as ClaimedRecord;
    const pending = JSON.stringify({ state: 'pending', fingerprint, token, requestId, leaseUntil: clock() + leaseMs } satisfies PendingRecord);
    let leaving: boolean;
    try {
      leaving = await store.replaceIfEquals(recordKey, claim, pending, ttlMs);
    } catch (err) {
      // Nothing sent. Redis may still apply either write late: both are ours to delete.
      metrics.idempotency.inc({ result: 'released' });
      releaseLater(recordKey, [claim, pending]);
      throw err;
    }
    if (!leaving) {
      // Another request with this key took the claim over (ours had expired): it is the one that sends.
      metrics.idempotency.inc({ result: 'in-flight' });
      throw inFlight();
    }
    metrics.idempotency.inc({ result: settle ? 'resolving' : 'first' });
    let answer: HttpAnswer;
    try {
      answer = await exec();
    } catch (err) {
      if (outcomeOfFailure(err) === 'not-sent') {
        metrics.idempotency.inc({ result: 'released' });
        await store.deleteIfEquals(recordKey, pending).catch(() => {
          logger.warn('idempotency: a key could not be released at once; released as soon as Redis answers');
          releaseLater(recordKey, [pending]);
        });
        throw err;
      }
      metrics.idempotency.inc({ result: 'unknown' });
      const unknown = unknownOutcome(err);
      logger.warn({ requestId, err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'idempotency: upstream outcome unknown; the key is spent');
      await save(recordKey, fingerprint, problemAnswer(unknown, requestId), true);
      throw unknown;
    }
    const final = settle ? settle(answer) : answer;
    if (settle) metrics.idempotency.inc({ result: 'resolved' });
    await save(recordKey, fingerprint, final);
    return final;
  }

  /** What a repeat answers, or `take-over` when it may claim the key itself (replacing `text`). */
  async function repeat(record: IdempotencyRecord, fingerprint: string, resolution: UnknownOutcomeResolution | undefined): Promise<HttpAnswer | 'take-over'> {
    if (record.fingerprint !== fingerprint) {
      metrics.idempotency.inc({ result: 'mismatch' });
      throw new IdempotencyKeyReused('This Idempotency-Key was used with another request body; use a new key for a new request.');
    }
    // Nothing was sent for a claim: its owner stands back when it finds its claim taken.
    if (record.state === 'claimed') return 'take-over';
    if (record.state === 'done') {
      if (record.unknown && resolution && (await resolution.qualifies())) return 'take-over';
      metrics.idempotency.inc({ result: 'replayed' });
      return replay(record);
    }
    if (clock() < record.leaseUntil) {
      metrics.idempotency.inc({ result: 'in-flight' });
      throw inFlight();
    }
    if (resolution && (await resolution.qualifies())) return 'take-over';
    metrics.idempotency.inc({ result: 'unknown' });
    return problemAnswer(unknownOutcome(undefined), record.requestId);
  }

  return {
    async run(scope, key, fingerprint, exec, requestId, runOptions) {
      const recordKey = recordKeyOf(scope, key);
      const resolution = runOptions?.resolution;
      // Two rounds: a record may expire, be released or be taken over between our writes and reads.
      for (let round = 0; round < 2; round += 1) {
        const claim = claimOf(fingerprint, requestId);
        let claimed: boolean;
        try {
          claimed = await store.set(recordKey, claim, { ttlMs: claimMs, ifAbsent: true });
        } catch (err) {
          // Redis may apply the SET after failing to answer: ours to delete once it answers.
          releaseLater(recordKey, [claim]);
          throw err;
        }
        if (claimed) return first(recordKey, claim, fingerprint, exec, requestId);
        const text = await store.get(recordKey);
        const existing = parseRecord(text);
        if (!existing || text === null) continue;
        const next = await repeat(existing, fingerprint, resolution);
        if (next !== 'take-over') return next;
        let took: boolean;
        try {
          took = await store.replaceIfEquals(recordKey, text, claim, claimMs);
        } catch (err) {
          releaseLater(recordKey, [claim]);
          throw err;
        }
        if (took) return first(recordKey, claim, fingerprint, exec, requestId, existing.state === 'claimed' ? undefined : resolution?.settle.bind(resolution));
      }
      metrics.idempotency.inc({ result: 'in-flight' });
      throw inFlight();
    },
  };
}
