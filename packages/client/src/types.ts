/**
 * The shapes of the `data` member of every front-end answer (UPSTREAM.md,
 * "Front-end endpoints"), as the service passes them on: the connect answer
 * never holds the `userToken`. Types only: this file emits no code.
 */

/** Dates are ISO 8601 UTC strings, ids are the upstream's. */
export type IsoDate = string;

export interface ProgramInfo {
  readonly name: string;
  /** What the points are called (`stars`, `miles`...). */
  readonly currency: string;
}

export interface ProgramAction {
  readonly action: string;
  readonly name: string;
  readonly points: number;
  /** How many times one user may store it; absent: once per `param1`. */
  readonly maxPerUser?: number;
}

export interface ProgramGift {
  readonly giftId: string;
  readonly name: string;
  readonly cost: number;
  readonly stock: number;
}

/** `partner/getprog`. */
export interface ProgramData {
  readonly program: ProgramInfo;
  readonly actions: readonly ProgramAction[];
  readonly gifts: readonly ProgramGift[];
}

export interface UserBalance {
  readonly partnerClientId: string;
  readonly points: number;
  readonly optIn: boolean;
}

/** `partner/initialcheckstore`: the program plus the user's balance. */
export interface InitialCheckStoreData extends ProgramData {
  readonly user: UserBalance;
}

export interface ConnectedUser extends UserBalance {
  readonly email: string;
  readonly firstName: string;
  readonly lastName: string;
}

/** `user/clientcheckcredentials`, without the `userToken` (kept by the service). */
export interface ConnectData {
  readonly user: ConnectedUser;
}

/** The token transport's session, in the connect answer. */
export interface SessionToken {
  readonly token: string;
  /** Idle lifetime in seconds. */
  readonly expiresIn: number;
}

export interface Earn {
  readonly earnId: string;
  readonly action: string;
  readonly points: number;
  readonly param1?: string;
  readonly date: IsoDate;
}

export interface Burn {
  readonly burnId: string;
  readonly giftId: string;
  readonly name: string;
  readonly cost: number;
  readonly date: IsoDate;
}

/** `user/historyburns`, newest first. */
export interface HistoryBurnsData {
  readonly burns: readonly Burn[];
  readonly page: number;
  readonly total: number;
}

/** `user/historyearns`, newest first. */
export interface HistoryEarnsData {
  readonly earns: readonly Earn[];
  readonly page: number;
  readonly total: number;
}

/** `user/logout` and `user/delete`. */
export type EmptyData = Readonly<Record<string, never>>;

/** `generosity/store` stored the earn now: the earn and the new balance. */
export interface StoredEarnData {
  readonly earn: Earn;
  readonly points: number;
}

/**
 * `generosity/store` retried with the same `Idempotency-Key` after an unknown
 * outcome: the earlier call stored it (the upstream refused the duplicate
 * `action` + `param1`). The earn and balance are not in it: read
 * `historyEarns` and `initialCheckStore`.
 */
export interface SettledEarnData {
  readonly alreadyApplied: true;
  readonly action: string;
  readonly param1: string;
}

/** `generosity/store`: stored now, or settled as stored by an earlier call with the same key. */
export type StoreData = StoredEarnData | SettledEarnData;

export interface GiftListItem extends ProgramGift {
  /** Whether this user has enough points for it. */
  readonly affordable: boolean;
}

/** `gift/list`. */
export interface GiftListData {
  readonly gifts: readonly GiftListItem[];
}

/** `gift/checkavailability`: the purchase and the new balance. */
export interface BuyGiftData {
  readonly burn: Burn;
  readonly points: number;
}

export interface Ad {
  readonly adId: string;
  readonly title: string;
  readonly body: string;
  readonly imageUrl: string;
  readonly url: string;
}

/** `ad/bonus`, `ad/specials`, `ad/news`. */
export interface AdsData {
  readonly ads: readonly Ad[];
}

export type AdKind = 'bonus' | 'specials' | 'news';

/** `GET /api/session` (the service's own route, not an upstream envelope). */
export type SessionInfo =
  | { readonly connected: false }
  | {
      readonly connected: true;
      readonly user: {
        readonly partnerClientId: string;
        readonly email: string | null;
        readonly firstName: string | null;
        readonly lastName: string | null;
      };
    };

// Request parameters.

export interface LangParams {
  /** Language of the content, e.g. `fr` or `en`. */
  readonly lang?: string;
}

export interface PageParams {
  /** From 1. */
  readonly page?: number;
  /** 1-100, default 20. */
  readonly limit?: number;
}

export interface ConnectParams {
  /** Read from the body only in the `insecure-body` identity mode (development, sandbox). */
  readonly partnerClientId?: string;
  readonly email?: string;
  readonly firstName?: string;
  readonly lastName?: string;
  /** Consent to data use: -1 unknown, 0 refused, 1 given. */
  readonly dataConsentCode?: -1 | 0 | 1;
  readonly lang?: string;
}

export interface StoreParams {
  readonly action: string;
  /** Makes the action unique (an order id...). */
  readonly param1?: string;
  readonly lang?: string;
}

export interface BuyGiftParams {
  readonly giftId: string;
}

/** Every front-end endpoint by the client's name for it: its parameters and its `data`. */
export interface MilesEndpointTypes {
  getProgram: { params: LangParams; data: ProgramData };
  initialCheckStore: { params: LangParams; data: InitialCheckStoreData };
  connect: { params: ConnectParams; data: ConnectData };
  historyBurns: { params: PageParams; data: HistoryBurnsData };
  historyEarns: { params: PageParams; data: HistoryEarnsData };
  logout: { params: Record<string, never>; data: EmptyData };
  deleteUser: { params: Record<string, never>; data: EmptyData };
  store: { params: StoreParams; data: StoreData };
  giftList: { params: LangParams; data: GiftListData };
  buyGift: { params: BuyGiftParams; data: BuyGiftData };
  adBonus: { params: LangParams; data: AdsData };
  adSpecials: { params: LangParams; data: AdsData };
  adNews: { params: LangParams; data: AdsData };
}

export type MilesEndpointName = keyof MilesEndpointTypes;

// Answers.

/** A successful answer: the upstream said errorCode 0. */
export interface MilesOk<T> {
  readonly ok: true;
  readonly data: T;
  /** The upstream's `errorMsg` (`"ok"`); empty for the service's own routes. */
  readonly errorMsg: string;
  readonly status: number;
  /** The service's `X-Request-Id`, to quote when reporting a problem. */
  readonly requestId: string | undefined;
  /** The `Idempotency-Key` sent, when one was. */
  readonly idempotencyKey?: string;
}

export interface MilesConnectOk extends MilesOk<ConnectData> {
  /** Present with the token transport. */
  readonly session?: SessionToken;
}

/** An RFC 9457 problem document as the service writes them. */
export interface MilesProblem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly requestId?: string;
  /** The service's stable error code, e.g. `ERR_FORBIDDEN`. */
  readonly code?: string;
  /** The upstream's errorCode, when the upstream gave one. */
  readonly upstreamErrorCode?: number;
  readonly [extra: string]: unknown;
}
