import type { LocalisedText, ProgramDefinition, ProgramLang } from './program-types';
import type { BurnRecord, EarnRecord, SandboxState, UserRecord } from './state';

/** The shapes of `data` the upstream answers, built from the state. */

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** `fr`, `fr-FR` and `fr_CA` speak French; anything else, or nothing, English. */
export function programLang(lang: string | undefined): ProgramLang {
  return lang !== undefined && /^fr(?:[-_]|$)/i.test(lang) ? 'fr' : 'en';
}

function text(t: LocalisedText, lang: ProgramLang): string {
  return t[lang];
}

export function programView(program: ProgramDefinition, state: SandboxState, lang: ProgramLang): JsonObject {
  return {
    program: { name: text(program.name, lang), currency: text(program.currency, lang) },
    actions: program.actions.map((a) => ({
      action: a.action,
      name: text(a.name, lang),
      points: a.points,
      ...(a.maxPerUser !== undefined ? { maxPerUser: a.maxPerUser } : {}),
    })),
    gifts: program.gifts.map((g) => ({ giftId: g.giftId, name: text(g.name, lang), cost: g.cost, stock: state.stockOf(g.giftId) ?? 0 })),
  };
}

export function earnView(e: EarnRecord): JsonObject {
  return { earnId: e.earnId, action: e.action, points: e.points, ...(e.param1 !== undefined ? { param1: e.param1 } : {}), date: e.date };
}

export function burnView(b: BurnRecord, lang: ProgramLang): JsonObject {
  return { burnId: b.burnId, giftId: b.giftId, name: text(b.name, lang), cost: b.cost, date: b.date };
}

export function profileView(u: UserRecord): JsonObject {
  return { partnerClientId: u.partnerClientId, email: u.email, firstName: u.firstName, lastName: u.lastName, points: u.points, optIn: u.optIn };
}

/** Newest first: by date, then by arrival for equal dates. */
export function newestFirst<T extends { date: string; seq: number }>(records: readonly T[]): T[] {
  return [...records].sort((a, b) => (a.date === b.date ? b.seq - a.seq : a.date < b.date ? 1 : -1));
}

export const DEFAULT_PAGE_SIZE = 20;

export interface Page<T> {
  readonly items: T[];
  readonly page: number;
  readonly total: number;
}

/** Pages start at 1; a page past the end is empty, not an error. */
export function pageOf<T>(items: readonly T[], page = 1, limit = DEFAULT_PAGE_SIZE): Page<T> {
  const start = (page - 1) * limit;
  return { items: items.slice(start, start + limit), page, total: items.length };
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}
