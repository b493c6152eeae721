import { fields, partnerClientIdList, type FieldSpec } from '../upstream/fields';

/**
 * The simulator's own table of the upstream's endpoints, written from UPSTREAM.md and kept
 * apart from the proxy's catalogue so that each checks the other. Only the limits of single
 * fields are shared.
 */

/** What the `sub` claim must hold. */
export type SubjectKind = 'none' | 'user' | 'backend';

export interface ParamRule {
  readonly spec: FieldSpec;
  readonly required: boolean;
}

export interface EndpointRule {
  readonly path: string;
  readonly subject: SubjectKind;
  readonly params: Readonly<Record<string, ParamRule>>;
}

const required = (spec: FieldSpec): ParamRule => ({ spec, required: true });
const optional = (spec: FieldSpec): ParamRule => ({ spec, required: false });

const lang = { lang: optional(fields.lang) };
const paging = { page: optional(fields.page), limit: optional(fields.limit) };

const RULES: readonly EndpointRule[] = [
  { path: 'partner/getprog', subject: 'none', params: lang },
  { path: 'partner/initialcheckstore', subject: 'user', params: lang },
  {
    path: 'user/clientcheckcredentials',
    subject: 'none',
    params: {
      partnerClientId: required(fields.partnerClientId),
      email: optional(fields.email),
      firstName: optional(fields.name),
      lastName: optional(fields.name),
      dataConsentCode: optional(fields.dataConsentCode),
      ...lang,
    },
  },
  { path: 'user/historyburns', subject: 'user', params: paging },
  { path: 'user/historyearns', subject: 'user', params: paging },
  { path: 'user/logout', subject: 'user', params: {} },
  { path: 'user/delete', subject: 'user', params: {} },
  { path: 'generosity/store', subject: 'user', params: { action: required(fields.action), param1: optional(fields.param1), ...lang } },
  { path: 'gift/list', subject: 'user', params: lang },
  { path: 'gift/checkavailability', subject: 'user', params: { giftId: required(fields.giftId) } },
  { path: 'ad/bonus', subject: 'user', params: lang },
  { path: 'ad/specials', subject: 'user', params: lang },
  { path: 'ad/news', subject: 'user', params: lang },

  { path: 'auth/token', subject: 'none', params: {} },
  {
    path: 'buffer/store',
    subject: 'backend',
    params: {
      partnerClientId: required(fields.partnerClientId),
      action: required(fields.action),
      param1: optional(fields.param1),
      date: optional(fields.date),
      ...lang,
    },
  },
  {
    path: 'generosity/multistore',
    subject: 'backend',
    params: { action: required(fields.action), partnerClientIds: required(partnerClientIdList), param1: optional(fields.param1) },
  },
  { path: 'user/incrementalinfos', subject: 'backend', params: { since: required(fields.since), ...paging } },
  { path: 'user/infos', subject: 'backend', params: { partnerClientIds: optional(partnerClientIdList), ...paging } },
  { path: 'user/info', subject: 'backend', params: { partnerClientId: required(fields.partnerClientId) } },
  { path: 'user/ranking', subject: 'backend', params: { partnerClientId: required(fields.partnerClientId), n: required(fields.rankingSpan) } },
  { path: 'user/multidelete', subject: 'backend', params: { partnerClientIds: required(partnerClientIdList) } },
];

const BY_PATH: ReadonlyMap<string, EndpointRule> = new Map(RULES.map((r) => [r.path, r]));

export const ENDPOINT_PATHS: readonly string[] = RULES.map((r) => r.path);

export function endpointRule(path: string): EndpointRule | undefined {
  return BY_PATH.get(path);
}
