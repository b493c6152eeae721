import type { AdKind } from './program-types';
import { ErrorCode, SandboxRefusal, refuse } from './errors';
import { buy, earn, requireAction } from './ledger';
import { integerParam, optionalInteger, optionalString, optionalStringList, stringList, stringParam, type Params } from './params';
import type { SandboxState, UserRecord } from './state';
import {
  burnView,
  earnView,
  isoDate,
  newestFirst,
  pageOf,
  profileView,
  programLang,
  programView,
  type Json,
  type JsonObject,
} from './views';

/** One function per endpoint: the business rules and the `data` of a success. */

export interface HandlerContext {
  readonly state: SandboxState;
  readonly partnerId: string;
  /** The user of the `sub` userToken, on front-end endpoints that need one. */
  readonly user: UserRecord | undefined;
  readonly backendTokenTtlSeconds: number;
  readonly now: () => number;
}

export type EndpointHandler = (ctx: HandlerContext, params: Params) => JsonObject;

function connectedUser(ctx: HandlerContext): UserRecord {
  if (!ctx.user) throw new Error('handler needs a user but the pipeline gave none');
  return ctx.user;
}

function knownUser(ctx: HandlerContext, partnerClientId: string): UserRecord {
  return ctx.state.findUser(partnerClientId) ?? refuse(ErrorCode.UnknownUser, 'unknown user');
}

function ads(kind: AdKind): EndpointHandler {
  return (ctx, params) => {
    const lang = programLang(optionalString(params, 'lang'));
    return {
      ads: ctx.state.program.ads[kind].map((ad) => ({ adId: ad.adId, title: ad.title[lang], body: ad.body[lang], imageUrl: ad.imageUrl, url: ad.url })),
    };
  };
}

function history(ctx: HandlerContext, params: Params, kind: 'earns' | 'burns'): JsonObject {
  const user = connectedUser(ctx);
  const page = optionalInteger(params, 'page');
  const limit = optionalInteger(params, 'limit');
  const items: Json[] =
    kind === 'earns' ? newestFirst(user.earns).map(earnView) : newestFirst(user.burns).map((b) => burnView(b, user.lang));
  const result = pageOf(items, page, limit);
  return { [kind]: result.items, page: result.page, total: result.total };
}

/** An ISO 8601 date as the upstream stores it (UTC); a date without zone is read as UTC. */
function actionDate(given: string | undefined, now: number): string {
  if (given === undefined) return isoDate(now);
  const zoned = /T/.test(given) && !/(Z|[+-]\d{2}:?\d{2})$/.test(given) ? `${given}Z` : given;
  const ms = Date.parse(zoned);
  if (Number.isNaN(ms)) refuse(ErrorCode.InvalidParameter, 'invalid parameter: date is not a valid ISO 8601 date');
  return isoDate(ms);
}

function storeFor(ctx: HandlerContext, user: UserRecord, params: Params, date: string): JsonObject {
  const record = earn(ctx.state, user, stringParam(params, 'action'), optionalString(params, 'param1'), date);
  return { earn: earnView(record), points: user.points };
}

const HANDLERS: Readonly<Record<string, EndpointHandler>> = {
  'partner/getprog': (ctx, params) => programView(ctx.state.program, ctx.state, programLang(optionalString(params, 'lang'))),

  'partner/initialcheckstore': (ctx, params) => {
    const user = connectedUser(ctx);
    return {
      ...programView(ctx.state.program, ctx.state, programLang(optionalString(params, 'lang'))),
      user: { partnerClientId: user.partnerClientId, points: user.points, optIn: user.optIn },
    };
  },

  'user/clientcheckcredentials': (ctx, params) => {
    const lang = optionalString(params, 'lang');
    const { user, created } = ctx.state.ensureUser(stringParam(params, 'partnerClientId'), programLang(lang));
    let changed = created;
    const update = (key: 'email' | 'firstName' | 'lastName'): void => {
      const value = optionalString(params, key);
      if (value !== undefined && value !== user[key]) {
        user[key] = value;
        changed = true;
      }
    };
    update('email');
    update('firstName');
    update('lastName');
    const consent = optionalInteger(params, 'dataConsentCode');
    // -1 means "not asked": it leaves an earlier answer as it was.
    if (consent === 0 || consent === 1) {
      if (user.optIn !== (consent === 1)) changed = true;
      user.optIn = consent === 1;
    }
    if (lang !== undefined) user.lang = programLang(lang);
    if (changed) ctx.state.touch(user);
    const userToken = ctx.state.issueUserToken(user, ctx.partnerId);
    return { user: { userToken, ...profileView(user) } };
  },

  'user/historyburns': (ctx, params) => history(ctx, params, 'burns'),
  'user/historyearns': (ctx, params) => history(ctx, params, 'earns'),

  'user/logout': (ctx) => {
    ctx.state.killUserTokens(connectedUser(ctx).partnerClientId);
    return {};
  },

  'user/delete': (ctx) => {
    ctx.state.deleteUser(connectedUser(ctx).partnerClientId);
    return {};
  },

  'generosity/store': (ctx, params) => storeFor(ctx, connectedUser(ctx), params, isoDate(ctx.now())),

  'gift/list': (ctx, params) => {
    const user = connectedUser(ctx);
    const lang = programLang(optionalString(params, 'lang'));
    return {
      gifts: ctx.state.program.gifts.map((g) => {
        const stock = ctx.state.stockOf(g.giftId) ?? 0;
        return { giftId: g.giftId, name: g.name[lang], cost: g.cost, stock, affordable: stock > 0 && user.points >= g.cost };
      }),
    };
  },

  'gift/checkavailability': (ctx, params) => {
    const user = connectedUser(ctx);
    const record = buy(ctx.state, user, stringParam(params, 'giftId'), isoDate(ctx.now()));
    return { burn: burnView(record, user.lang), points: user.points };
  },

  'ad/bonus': ads('bonus'),
  'ad/specials': ads('specials'),
  'ad/news': ads('news'),

  'auth/token': (ctx) => ({
    token: ctx.state.issueBackendToken(ctx.partnerId, ctx.backendTokenTtlSeconds),
    expiresIn: ctx.backendTokenTtlSeconds,
  }),

  'buffer/store': (ctx, params) => {
    requireAction(ctx.state, stringParam(params, 'action'));
    const date = actionDate(optionalString(params, 'date'), ctx.now());
    const lang = optionalString(params, 'lang');
    const { user } = ctx.state.ensureUser(stringParam(params, 'partnerClientId'), programLang(lang));
    return storeFor(ctx, user, params, date);
  },

  'generosity/multistore': (ctx, params) => {
    const action = stringParam(params, 'action');
    requireAction(ctx.state, action);
    const param1 = optionalString(params, 'param1');
    const date = isoDate(ctx.now());
    const results = stringList(params, 'partnerClientIds').map((partnerClientId): JsonObject => {
      const { user } = ctx.state.ensureUser(partnerClientId);
      try {
        earn(ctx.state, user, action, param1, date);
        return { partnerClientId, errorCode: ErrorCode.Ok, points: user.points };
      } catch (err) {
        if (err instanceof SandboxRefusal) return { partnerClientId, errorCode: err.code };
        throw err;
      }
    });
    return { results };
  },

  'user/incrementalinfos': (ctx, params) => {
    const sinceMs = integerParam(params, 'since') * 1000;
    const changed = ctx.state
      .allUsers()
      .filter((u) => u.updatedAt >= sinceMs)
      .sort((a, b) => a.updatedAt - b.updatedAt || (a.partnerClientId < b.partnerClientId ? -1 : 1));
    const result = pageOf(changed, optionalInteger(params, 'page'), optionalInteger(params, 'limit'));
    return {
      users: result.items.map((u) => ({
        partnerClientId: u.partnerClientId,
        email: u.email,
        points: u.points,
        earns: newestFirst(u.earns).map(earnView),
        burns: newestFirst(u.burns).map((b) => burnView(b, u.lang)),
      })),
      page: result.page,
      total: result.total,
    };
  },

  'user/infos': (ctx, params) => {
    const listed = optionalStringList(params, 'partnerClientIds');
    const users = listed
      ? [...new Set(listed)].map((id) => ctx.state.findUser(id)).filter((u): u is UserRecord => u !== undefined)
      : ctx.state.allUsers();
    const result = pageOf(users, optionalInteger(params, 'page'), optionalInteger(params, 'limit'));
    return { users: result.items.map(profileView), page: result.page, total: result.total };
  },

  'user/info': (ctx, params) => ({ user: profileView(knownUser(ctx, stringParam(params, 'partnerClientId'))) }),

  'user/ranking': (ctx, params) => {
    const user = knownUser(ctx, stringParam(params, 'partnerClientId'));
    const n = integerParam(params, 'n');
    // Equal balances are ordered by id so that the ranking is stable between calls.
    const ordered = ctx.state
      .allUsers()
      .sort((a, b) => b.points - a.points || (a.partnerClientId < b.partnerClientId ? -1 : a.partnerClientId > b.partnerClientId ? 1 : 0));
    const at = ordered.indexOf(user);
    const from = Math.max(0, at - n);
    return {
      ranking: ordered.slice(from, at + n + 1).map((u, i) => ({ rank: from + i + 1, partnerClientId: u.partnerClientId, points: u.points })),
    };
  },

  'user/multidelete': (ctx, params) => ({
    results: stringList(params, 'partnerClientIds').map((partnerClientId) => ({ partnerClientId, deleted: ctx.state.deleteUser(partnerClientId) })),
  }),
};

export function handlerFor(path: string): EndpointHandler | undefined {
  return Object.prototype.hasOwnProperty.call(HANDLERS, path) ? HANDLERS[path] : undefined;
}
