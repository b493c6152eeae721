/** A text in each language the program speaks; `en` is the fallback. */
export interface LocalisedText {
  readonly en: string;
  readonly fr: string;
}

export type ProgramLang = keyof LocalisedText;

export interface ProgramAction {
  readonly action: string;
  readonly name: LocalisedText;
  readonly points: number;
  /** How many times one user may earn it; unlimited when absent. */
  readonly maxPerUser?: number;
}

export interface ProgramGift {
  readonly giftId: string;
  readonly name: LocalisedText;
  readonly cost: number;
  /** Initial stock, shared by every user; each purchase takes one. */
  readonly stock: number;
}

export interface ProgramAd {
  readonly adId: string;
  readonly title: LocalisedText;
  readonly body: LocalisedText;
  readonly imageUrl: string;
  readonly url: string;
}

export type AdKind = 'bonus' | 'specials' | 'news';

export interface ProgramDefinition {
  readonly name: LocalisedText;
  readonly currency: LocalisedText;
  /** Balance of a user when created, not recorded as an earn. */
  readonly startingBalance: number;
  readonly actions: readonly ProgramAction[];
  readonly gifts: readonly ProgramGift[];
  readonly ads: Readonly<Record<AdKind, readonly ProgramAd[]>>;
}
