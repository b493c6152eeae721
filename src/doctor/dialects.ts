import { randomUUID } from 'node:crypto';
import { UpstreamAuthFailure, UpstreamFault, UpstreamUnreadable } from '../errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { endpoint } from '../upstream/catalogue';
import { createUpstreamClient } from '../upstream/client';
import { createSigner, type SignerOptions } from '../upstream/signer';
import type { CheckResult, MatchingSetting, ProbeAttempt } from './report';
import { fixFor, transportFailureOf, type TransportFailure } from './transport-failure';
import { PROBE_PATH } from './upstream-reach';
import { ErrorCode } from '../upstream/error-code';

/** The readings of the upstream that the public summary leaves open, as the signer takes them. */
export type Dialect = Pick<SignerOptions, 'jsonEncoding' | 'signedHeadersFormat' | 'emptyBody' | 'signatureHeader'>;

const SETTING_OF: Readonly<Record<keyof Dialect, string>> = {
  jsonEncoding: 'APM_JSON_ENCODING',
  signedHeadersFormat: 'APM_SIGNED_HEADERS_FORMAT',
  emptyBody: 'APM_EMPTY_BODY',
  signatureHeader: 'APM_SIGNATURE_HEADER',
};
const DIALECT_KEYS = Object.keys(SETTING_OF) as Array<keyof Dialect>;

/**
 * The probe's body: `lang` is the one parameter of `partner/getprog`, and this value holds a
 * slash and a non-ASCII character, where PHP's `json_encode` and `JSON.stringify` differ, so
 * the encoding is really exercised. The upstream may refuse the value itself (errorCode 2,
 * HTTP 200): that comes after the signature checks, so it still means the dialect is accepted.
 */
export const PROBE_BODY: Readonly<Record<string, string>> = Object.freeze({ lang: 'fr/é' });

export interface DialectSearchInput {
  readonly baseUrl: string;
  readonly partnerId: string;
  readonly partnerSecret: string;
  readonly timeoutMs: number;
  /** The dialect the current settings name; tried first. */
  readonly current: Dialect;
  /** More signature headers to try (`--signature-header`). */
  readonly extraSignatureHeaders: readonly string[];
  /** Back-end keys are configured: `auth/token` is probed too (it is the call without parameters then). */
  readonly backend: boolean;
  readonly pauseMs: number;
  readonly timeLimitMs: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export interface DialectSearchResult {
  readonly checks: readonly CheckResult[];
  readonly matching: readonly MatchingSetting[] | undefined;
  readonly attempts: readonly ProbeAttempt[];
}

type ProbeResult =
  | { readonly kind: 'accepted'; readonly errorCode: number; readonly data: unknown }
  | { readonly kind: 'refused'; readonly errorCode: number }
  | { readonly kind: 'unknown-partner' }
  | { readonly kind: 'stale' }
  | { readonly kind: 'transport'; readonly failure: TransportFailure }
  | { readonly kind: 'fault'; readonly detail: string };

/** Every dialect with a body, the current one first; the empty body is left as it is (it cannot show in a body with parameters). */
export function dialectCandidates(current: Dialect, extraSignatureHeaders: readonly string[]): Dialect[] {
  const headers: string[] = [];
  for (const name of [current.signatureHeader, 'Authorization', ...extraSignatureHeaders]) {
    if (!headers.some((h) => h.toLowerCase() === name.toLowerCase())) headers.push(name);
  }
  const encodings: Array<Dialect['jsonEncoding']> = current.jsonEncoding === 'php' ? ['php', 'standard'] : ['standard', 'php'];
  const formats: Array<Dialect['signedHeadersFormat']> = current.signedHeadersFormat === 'object' ? ['object', 'list'] : ['list', 'object'];
  const out: Dialect[] = [];
  for (const signatureHeader of headers) {
    for (const jsonEncoding of encodings) {
      for (const signedHeadersFormat of formats) out.push({ jsonEncoding, signedHeadersFormat, emptyBody: current.emptyBody, signatureHeader });
    }
  }
  return out;
}

/** The dialect as `NAME=value` settings, marking those that differ from the current ones. */
export function matchingSettings(found: Dialect, current: Dialect): MatchingSetting[] {
  return DIALECT_KEYS.map((key) => ({ name: SETTING_OF[key], value: found[key], current: current[key], differs: found[key] !== current[key] }));
}

function settingsOf(dialect: Dialect): Record<string, string> {
  return Object.fromEntries(DIALECT_KEYS.map((key) => [SETTING_OF[key], dialect[key]]));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Looks for the dialect the upstream accepts, with read-only calls signed by the service's own
 * signer and sent by its own client: first a call with a body (`partner/getprog`) in each
 * encoding, `data_header` shape and signature header, the current dialect first, stopping at
 * the first accepted; then, in that dialect, a call without parameters (`auth/token` when
 * back-end keys are configured, else `partner/getprog`) written `{}` or `[]`. At most one call
 * per combination, `pauseMs` between calls, `timeLimitMs` for the whole search. A refusal that
 * no dialect can cure (unknown partner, stale signature, no connection) ends the search at once.
 */
export async function searchDialect(input: DialectSearchInput): Promise<DialectSearchResult> {
  const attempts: ProbeAttempt[] = [];
  const started = Date.now();
  let calls = 0;

  async function probe(dialect: Dialect, path: string, body: Readonly<Record<string, unknown>>): Promise<ProbeResult | 'time-limit'> {
    if (calls > 0) {
      if (Date.now() - started + input.pauseMs >= input.timeLimitMs) return 'time-limit';
      await sleep(input.pauseMs);
    }
    calls += 1;
    const signer = createSigner({ partnerId: input.partnerId, partnerSecret: input.partnerSecret, ...dialect });
    // No circuit breaker: each call is judged on its own.
    const client = createUpstreamClient({ baseUrl: input.baseUrl, timeoutMs: input.timeoutMs, maxSockets: 1, signer, logger: input.logger, metrics: input.metrics });
    let result: ProbeResult;
    try {
      const answer = await client.call({ endpoint: endpoint(path), sub: '', body, requestId: `doctor-${randomUUID()}` });
      result = { kind: 'accepted', errorCode: answer.errorCode, data: answer.envelope.data };
    } catch (err) {
      result = classify(err);
    } finally {
      client.close();
    }
    const settings = settingsOf(dialect);
    // A body with parameters cannot show how an empty one is written: its call says nothing of APM_EMPTY_BODY.
    if (Object.keys(body).length > 0) delete settings[SETTING_OF.emptyBody];
    attempts.push({
      endpoint: path,
      settings,
      outcome: result.kind,
      ...('errorCode' in result ? { errorCode: result.errorCode } : {}),
      ...(result.kind === 'fault' ? { detail: result.detail } : result.kind === 'transport' ? { detail: result.failure.code } : {}),
    });
    return result;
  }

  const stopped = (result: ProbeResult, name: CheckResult['name']): CheckResult | undefined => {
    switch (result.kind) {
      case 'unknown-partner':
        return { name, status: 'fail', summary: `the upstream does not know the partner id ${JSON.stringify(input.partnerId)} (errorCode 1)`, fix: 'check APM_PARTNER_ID: it must be the partner id the upstream gave you for this environment (sandbox and production differ)' };
      case 'stale':
        return { name, status: 'fail', summary: 'the upstream refused the signature as stale: its iat is outside the accepted window (errorCode 8)', fix: "synchronise this machine's clock (NTP): see the clock check" };
      case 'transport':
        return { name, status: 'fail', summary: `the signed call got no answer (${result.failure.code}: ${result.failure.message})`, fix: fixFor(result.failure, input.baseUrl, input.timeoutMs) };
      default:
        return undefined;
    }
  };

  // 1. A body with parameters, in each encoding, data_header shape and signature header.
  const candidates = dialectCandidates(input.current, input.extraSignatureHeaders);
  let found: Dialect | undefined;
  let timedOut = false;
  const faults: string[] = [];
  for (const dialect of candidates) {
    const result = await probe(dialect, PROBE_PATH, PROBE_BODY);
    if (result === 'time-limit') {
      timedOut = true;
      break;
    }
    if (result.kind === 'accepted') {
      found = dialect;
      break;
    }
    const fatal = stopped(result, 'dialect');
    if (fatal) return { checks: [fatal, skipped('empty-body', 'not tried: no dialect accepted'), ...backendSkip(input.backend, 'not tried: no dialect accepted')], matching: undefined, attempts };
    if (result.kind === 'fault') faults.push(result.detail);
  }
  if (!found) {
    const tried = attempts.length;
    const summary = timedOut
      ? `time limit of ${input.timeLimitMs / 1000} s reached after ${tried} of ${candidates.length} dialects, none accepted`
      : faults.length > 0
        ? `none of the ${tried} dialects tried was accepted (${faults.length} answered with an upstream fault: ${[...new Set(faults)].join('; ')})`
        : `none of the ${tried} dialects tried was accepted: every call was refused as a signature mismatch (errorCode 9)`;
    const fix = timedOut
      ? 'run again with a longer --time-limit-seconds or a shorter --pause-ms'
      : 'the likeliest cause is a wrong APM_PARTNER_SECRET (check it byte for byte: no trailing newline or space, the secret of this environment); if it is right, the upstream reads the signature from another header: name it with --signature-header';
    return { checks: [{ name: 'dialect', status: 'fail', summary, fix, data: { tried } }, skipped('empty-body', 'not tried: no dialect accepted'), ...backendSkip(input.backend, 'not tried: no dialect accepted')], matching: undefined, attempts };
  }
  const accepted = attempts.at(-1)!;
  const dialectCheck: CheckResult = {
    name: 'dialect',
    status: 'pass',
    summary: `accepted at call ${attempts.length} of at most ${candidates.length}: ${describe(found)}${accepted.errorCode ? ` (errorCode ${accepted.errorCode} to the probe's parameter, after the signature checks)` : ''}`,
    data: { calls: attempts.length, settings: settingsOf(found) },
  };

  // 2. A call without parameters, written {} or [].
  const emptyPath = input.backend ? 'auth/token' : PROBE_PATH;
  const bodies: Array<Dialect['emptyBody']> = input.current.emptyBody === '{}' ? ['{}', '[]'] : ['[]', '{}'];
  let backendCheck: CheckResult | undefined;
  for (const emptyBody of bodies) {
    const dialect = { ...found, emptyBody };
    const result = await probe(dialect, emptyPath, {});
    if (result === 'time-limit') {
      return { checks: [dialectCheck, { name: 'empty-body', status: 'fail', summary: `time limit of ${input.timeLimitMs / 1000} s reached before a call without parameters was accepted`, fix: 'run again with a longer --time-limit-seconds or a shorter --pause-ms' }, ...backendSkip(input.backend, 'not tried: time limit')], matching: undefined, attempts };
    }
    if (result.kind === 'accepted') {
      if (input.backend) backendCheck = backendTokenCheck(result);
      return {
        checks: [dialectCheck, { name: 'empty-body', status: 'pass', summary: `a call without parameters (${emptyPath}) is accepted written ${emptyBody}` }, ...(backendCheck ? [backendCheck] : backendSkip(false, ''))],
        matching: matchingSettings(dialect, input.current),
        attempts,
      };
    }
    const fatal = stopped(result, 'empty-body');
    if (fatal) return { checks: [dialectCheck, fatal, ...backendSkip(input.backend, 'not tried')], matching: undefined, attempts };
  }
  return {
    checks: [
      dialectCheck,
      {
        name: 'empty-body',
        status: 'fail',
        summary: `a call without parameters (${emptyPath}) was refused written {} and written []`,
        fix: input.backend ? 'the partner may lack back-end access (auth/token): ask the upstream, or empty INTERNAL_API_KEYS if back-end endpoints are not used' : 'report it to the upstream with the attempts of --json',
      },
      ...backendSkip(input.backend, 'auth/token refused'),
    ],
    matching: undefined,
    attempts,
  };
}

function describe(dialect: Dialect): string {
  return `${dialect.jsonEncoding} JSON, data_header as ${dialect.signedHeadersFormat === 'object' ? 'an object' : 'a list'}, signature in ${dialect.signatureHeader}`;
}

function skipped(name: CheckResult['name'], why: string): CheckResult {
  return { name, status: 'skip', summary: why };
}

function backendSkip(backend: boolean, why: string): CheckResult[] {
  return [skipped('backend-token', backend ? why : 'INTERNAL_API_KEYS is empty: no back-end endpoint is used, auth/token is not called')];
}

function backendTokenCheck(result: Extract<ProbeResult, { kind: 'accepted' }>): CheckResult {
  const fields = result.data !== null && typeof result.data === 'object' ? Object.keys(result.data) : [];
  if (result.errorCode !== ErrorCode.Ok) {
    return { name: 'backend-token', status: 'fail', summary: `auth/token answered errorCode ${result.errorCode}`, fix: 'ask the upstream to enable back-end access for this partner, or empty INTERNAL_API_KEYS if back-end endpoints are not used' };
  }
  return { name: 'backend-token', status: 'pass', summary: `auth/token issued a back-end token (data fields: ${fields.join(', ') || 'none'})`, data: { fields } };
}

function classify(err: unknown): ProbeResult {
  if (err instanceof UpstreamAuthFailure) {
    if (err.upstreamErrorCode === ErrorCode.UnknownPartner) return { kind: 'unknown-partner' };
    if (err.upstreamErrorCode === ErrorCode.StaleSignature) return { kind: 'stale' };
    return { kind: 'refused', errorCode: err.upstreamErrorCode };
  }
  const failure = transportFailureOf(err);
  if (failure) return { kind: 'transport', failure };
  if (err instanceof UpstreamFault) return { kind: 'fault', detail: `HTTP ${err.httpStatus}${err.upstreamErrorCode === undefined ? '' : `, errorCode ${err.upstreamErrorCode}`}` };
  if (err instanceof UpstreamUnreadable) return { kind: 'fault', detail: 'an unreadable answer' };
  return { kind: 'fault', detail: err instanceof Error ? err.message : String(err) };
}
