/**
 * The contract answers 503 within 2 s while the session store is away. A test on a shared machine
 * cannot measure that by the wall clock; it reads instead how the service came to refuse, from the
 * problem document's detail (redis-store.ts writes it):
 * - `at-once`: the store was known to be away (not connected, not answering, a command that failed
 *   on a lost connection), so nothing was waited for;
 * - `deadline`: a command was given up at the service's own deadline, which it names.
 */
export type StoreRefusal = { readonly kind: 'at-once' } | { readonly kind: 'deadline'; readonly deadlineMs: number } | { readonly kind: 'other'; readonly detail: string };

/** The contract's bound for a 503 while the store is away. */
export const STORE_REFUSAL_BOUND_MS = 2000;

export function storeRefusalOf(detail: unknown): StoreRefusal {
  const text = typeof detail === 'string' ? detail : String(detail);
  if (/^Redis (is not (connected|answering)|command failed) \(/.test(text)) return { kind: 'at-once' };
  const deadline = /^Redis did not answer within (\d+) ms \(/.exec(text);
  if (deadline) return { kind: 'deadline', deadlineMs: Number(deadline[1]) };
  return { kind: 'other', detail: text };
}

/**
 * Whether the refusal came within the contract's bound by construction: at once, or at a deadline
 * that, with the quarter of it by which the store's sweep may be late, stays within the bound.
 */
export function refusedWithinBound(detail: unknown): boolean {
  const refusal = storeRefusalOf(detail);
  if (refusal.kind === 'at-once') return true;
  return refusal.kind === 'deadline' && refusal.deadlineMs * 1.25 <= STORE_REFUSAL_BOUND_MS;
}
