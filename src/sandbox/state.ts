import { randomBytes } from 'node:crypto';
import type { LocalisedText, ProgramDefinition, ProgramLang } from './program-types';

/**
 * Everything the simulator remembers: users with their history, the live tokens, the gifts'
 * stock. Plain maps in memory; nothing survives the process.
 */

export interface EarnRecord {
  readonly earnId: string;
  readonly action: string;
  readonly points: number;
  readonly param1?: string;
  /** ISO 8601 UTC. */
  readonly date: string;
  /** Arrival order, to break ties between equal dates. */
  readonly seq: number;
}

export interface BurnRecord {
  readonly burnId: string;
  readonly giftId: string;
  /** The gift's name as it was when bought. */
  readonly name: LocalisedText;
  readonly cost: number;
  readonly date: string;
  readonly seq: number;
}

export interface UserRecord {
  readonly partnerClientId: string;
  email: string;
  firstName: string;
  lastName: string;
  optIn: boolean;
  /** Language of the texts stored in this user's history (from clientcheckcredentials). */
  lang: ProgramLang;
  points: number;
  readonly earns: EarnRecord[];
  readonly burns: BurnRecord[];
  readonly createdAt: number;
  /** Last change, ms since the epoch: what user/incrementalinfos filters on. */
  updatedAt: number;
}

interface UserTokenGrant {
  readonly partnerClientId: string;
  readonly partnerId: string;
}

interface BackendTokenGrant {
  readonly partnerId: string;
  readonly expiresAt: number;
}

/** Oldest userTokens of a user are dropped beyond this, so that endless log-ins stay bounded. */
export const MAX_USER_TOKENS_PER_USER = 100;

function newToken(): string {
  return randomBytes(32).toString('hex');
}

export class SandboxState {
  private readonly users = new Map<string, UserRecord>();
  private readonly userTokens = new Map<string, UserTokenGrant>();
  /** Insertion-ordered, so the first entry is the oldest. */
  private readonly tokensByUser = new Map<string, Set<string>>();
  private readonly backendTokens = new Map<string, BackendTokenGrant>();
  private readonly stock = new Map<string, number>();
  private sequence = 0;

  constructor(
    readonly program: ProgramDefinition,
    private readonly now: () => number,
  ) {
    for (const gift of program.gifts) this.stock.set(gift.giftId, gift.stock);
  }

  nextSeq(): number {
    this.sequence += 1;
    return this.sequence;
  }

  /** An opaque id of the upstream's, unique within this simulator. */
  nextId(prefix: string): string {
    return `${prefix}_${String(this.nextSeq()).padStart(8, '0')}`;
  }

  findUser(partnerClientId: string): UserRecord | undefined {
    return this.users.get(partnerClientId);
  }

  /** Users in creation order. */
  allUsers(): UserRecord[] {
    return [...this.users.values()];
  }

  /** The user, created with the program's starting balance when unknown. */
  ensureUser(partnerClientId: string, lang: ProgramLang = 'en'): { user: UserRecord; created: boolean } {
    const existing = this.users.get(partnerClientId);
    if (existing) return { user: existing, created: false };
    const at = this.now();
    const user: UserRecord = {
      partnerClientId,
      email: '',
      firstName: '',
      lastName: '',
      optIn: false,
      lang,
      points: this.program.startingBalance,
      earns: [],
      burns: [],
      createdAt: at,
      updatedAt: at,
    };
    this.users.set(partnerClientId, user);
    return { user, created: true };
  }

  touch(user: UserRecord): void {
    user.updatedAt = this.now();
  }

  deleteUser(partnerClientId: string): boolean {
    this.killUserTokens(partnerClientId);
    return this.users.delete(partnerClientId);
  }

  issueUserToken(user: UserRecord, partnerId: string): string {
    const token = newToken();
    this.userTokens.set(token, { partnerClientId: user.partnerClientId, partnerId });
    let tokens = this.tokensByUser.get(user.partnerClientId);
    if (!tokens) {
      tokens = new Set();
      this.tokensByUser.set(user.partnerClientId, tokens);
    }
    tokens.add(token);
    if (tokens.size > MAX_USER_TOKENS_PER_USER) {
      const oldest = tokens.values().next().value;
      if (oldest !== undefined) {
        tokens.delete(oldest);
        this.userTokens.delete(oldest);
      }
    }
    return token;
  }

  /** The user a live userToken belongs to, for the partner it was issued to. */
  userForToken(token: string, partnerId: string): UserRecord | undefined {
    const grant = this.userTokens.get(token);
    if (!grant || grant.partnerId !== partnerId) return undefined;
    return this.users.get(grant.partnerClientId);
  }

  killUserTokens(partnerClientId: string): void {
    const tokens = this.tokensByUser.get(partnerClientId);
    if (!tokens) return;
    for (const token of tokens) this.userTokens.delete(token);
    this.tokensByUser.delete(partnerClientId);
  }

  liveUserTokenCount(partnerClientId: string): number {
    return this.tokensByUser.get(partnerClientId)?.size ?? 0;
  }

  issueBackendToken(partnerId: string, ttlSeconds: number): string {
    const at = this.now();
    // Expired tokens are forgotten here so that a long-running sandbox stays small.
    for (const [token, grant] of this.backendTokens) if (grant.expiresAt <= at) this.backendTokens.delete(token);
    const token = newToken();
    this.backendTokens.set(token, { partnerId, expiresAt: at + ttlSeconds * 1000 });
    return token;
  }

  backendTokenIsLive(token: string, partnerId: string): boolean {
    const grant = this.backendTokens.get(token);
    return grant !== undefined && grant.partnerId === partnerId && this.now() < grant.expiresAt;
  }

  expireBackendTokens(): void {
    this.backendTokens.clear();
  }

  stockOf(giftId: string): number | undefined {
    return this.stock.get(giftId);
  }

  takeOneFromStock(giftId: string): void {
    const left = this.stock.get(giftId);
    if (left !== undefined && left > 0) this.stock.set(giftId, left - 1);
  }
}
