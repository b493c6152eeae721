import { upstreamParams as p, type ParamSpec } from './param-specs';

/**
 * The simulator's own table of the upstream's endpoints, written from UPSTREAM.md and kept
 * apart from the proxy's catalogue so that each checks the other (param-specs.ts).
 */

/** What the `sub` claim must hold. */
export type SubjectKind = 'none' | 'user' | 'backend';

export interface ParamRule {
  readonly spec: ParamSpec;
  readonly required: boolean;
}

export interface EndpointRule {
  readonly path: string;
  readonly subject: SubjectKind;
  readonly params: Readonly<Record<string, ParamRule>>;
}

const required = (spec: ParamSpec): ParamRule => ({ spec, required: true });
const optional = (spec: ParamSpec): ParamRule => ({ spec, required: false });

const lang = { lang: optional(p.lang) };
const paging = { page: optional(p.page), limit: optional(p.limit) };

/** Every endpoint of UPSTREAM.md, front-end then back-end. */
export const ENDPOINT_RULES: readonly EndpointRule[] = [
  { path: 'partner/getprog', subject: 'none', params: lang },
  { path: 'partner/initialcheckstore', subject: 'user', params: lang },
  {
    path: 'user/clientcheckcredentials',
    subject: 'none',
    params: {
      partnerClientId: required(p.partnerClientId),
      email: optional(p.email),
      firstName: optional(p.firstName),
      lastName: optional(p.lastName),
      dataConsentCode: optional(p.dataConsentCode),
      ...lang,
    },
  },
  { path: 'user/historyburns', subject: 'user', params: paging },
  { path: 'user/historyearns', subject: 'user', params: paging },
  { path: 'user/logout', subject: 'user', params: {} },
  { path: 'user/delete', subject: 'user', params: {} },
  { path: 'generosity/store', subject: 'user', params: { action: required(p.action), param1: optional(p.param1), ...lang } },
  { path: 'gift/list', subject: 'user', params: lang },
  { path: 'gift/checkavailability', subject: 'user', params: { giftId: required(p.giftId) } },
  { path: 'ad/bonus', subject: 'user', params: lang },
  { path: 'ad/specials', subject: 'user', params: lang },
  { path: 'ad/news', subject: 'user', params: lang },

  { path: 'auth/token', subject: 'none', params: {} },
  {
    path: 'buffer/store',
    subject: 'backend',
    params: {
      partnerClientId: required(p.partnerClientId),
      action: required(p.action),
      param1: optional(p.param1),
      date: optional(p.date),
      ...lang,
    },
  },
  {
    path: 'generosity/multistore',
    subject: 'backend',
    params: { action: required(p.action), partnerClientIds: required(p.partnerClientIds), param1: optional(p.param1) },
  },
  { path: 'user/incrementalinfos', subject: 'backend', params: { since: required(p.since), ...paging } },
  { path: 'user/infos', subject: 'backend', params: { partnerClientIds: optional(p.partnerClientIds), ...paging } },
  { path: 'user/info', subject: 'backend', params: { partnerClientId: required(p.partnerClientId) } },
  { path: 'user/ranking', subject: 'backend', params: { partnerClientId: required(p.partnerClientId), n: required(p.n) } },
  { path: 'user/multidelete', subject: 'backend', params: { partnerClientIds: required(p.partnerClientIds) } },
];

const BY_PATH: ReadonlyMap<string, EndpointRule> = new Map(ENDPOINT_RULES.map((r) => [r.path, r]));

export const ENDPOINT_PATHS: readonly string[] = ENDPOINT_RULES.map((r) => r.path);

export function endpointRule(path: string): EndpointRule | undefined {
  return BY_PATH.get(path);
}
