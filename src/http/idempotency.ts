import type { HttpAnswer } from './answer';

/**
 * Idempotency-Key handling of the mutations that accept one: the first
 * answer is stored and replayed; a concurrent repeat gets 409; the same key
 * with another body gets 422; the upstream is reached at most once per key.
 */
export interface Idempotency {
  run(scope: string, key: string, fingerprint: string, exec: () => Promise<HttpAnswer>, requestId: string): Promise<HttpAnswer>;
}
