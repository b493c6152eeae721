import { hashTag, type KeyValueStore } from '../redis/key-value-store';

/**
 * Which of our sessions a provider session (`sid`) and a provider user (`sub`) opened, in the
 * shared store, so that a back-channel logout received by any replica ends them all.
 */
export interface OidcSessionIndex {
  add(session: { readonly sid: string | undefined; readonly sub: string }, sessionId: string): Promise<void>;
  /** The session ids a logout token names: those of its `sid` when it has one, else those of its `sub`. */
  sessionsOf(subject: { readonly sid?: string; readonly sub?: string }): Promise<string[]>;
  forget(subject: { readonly sid?: string; readonly sub?: string }, sessionIds: readonly string[]): Promise<void>;
  /** Records a logout token's `jti`; false when it was seen already (a replay). */
  firstUseOf(jti: string, ttlMs: number): Promise<boolean>;
}

export function createOidcSessionIndex(store: KeyValueStore, keyPrefix: string, lifetimeMs: number): OidcSessionIndex {
  const sidKey = (sid: string): string => `${keyPrefix}oidc-sid:{${hashTag(sid)}}`;
  const subKey = (sub: string): string => `${keyPrefix}oidc-sub:{${hashTag(sub)}}`;
  const keysOf = (subject: { readonly sid?: string; readonly sub?: string }): string[] =>
    subject.sid ? [sidKey(subject.sid)] : subject.sub ? [subKey(subject.sub)] : [];
  return {
    async add({ sid, sub }, sessionId) {
      await store.setAdd(subKey(sub), sessionId, lifetimeMs);
      if (sid) await store.setAdd(sidKey(sid), sessionId, lifetimeMs);
    },
    async sessionsOf(subject) {
      const lists = await Promise.all(keysOf(subject).map((key) => store.setMembers(key)));
      return [...new Set(lists.flat())];
    },
    async forget(subject, sessionIds) {
      await Promise.all(keysOf(subject).map((key) => store.setRemove(key, sessionIds)));
    },
    async firstUseOf(jti, ttlMs) {
      return store.set(`${keyPrefix}oidc-jti:${jti}`, '1', { ttlMs, ifAbsent: true });
    },
  };
}
