import { AxiosError } from 'axios';
import {
  BadRequest,
  Conflict,
  Forbidden,
  IdentityProviderUnavailable,
  InsecureTransport,
  InternalError,
  MethodNotAllowed,
  NotFound,
  PayloadTooLarge,
  ServiceError,
  ServiceUnavailable,
  SessionStoreUnavailable,
  TooManyRequests,
  Unauthenticated,
  UnprocessableEntity,
  UnsupportedMediaType,
  UpstreamAuthFailure,
  UpstreamCircuitOpen,
  UpstreamFault,
  UpstreamMisread,
  UpstreamTimeout,
  UpstreamUnreachable,
  UpstreamUnreadable,
} from '../../src/errors';
import { ErrorCode } from '../../src/upstream/error-code';

const unreachable = (code: string): UpstreamUnreachable => new UpstreamUnreachable(`unreachable (${code})`, 'p', { cause: new AxiosError('x', code) });

/** Every field of an error's classification, in one row. */
const classification = (err: ServiceError) => ({
  status: err.status,
  problemType: err.problemType,
  upstreamReached: err.upstreamReached,
  applied: err.applied,
  upstreamHealth: err.upstreamHealth,
  callOutcome: err.callOutcome,
  outage: err.outage,
  retryAfter: err.retryAfterSeconds,
});

const type = (name: string): string => `https://miles-bff.dev/problems/${name}`;

describe('errors carry their classification', () => {
  it.each<[string, ServiceError, ReturnType<typeof classification>]>([
    ['a timeout', new UpstreamTimeout('t', 'p'),
      { status: 504, problemType: type('upstream-timeout'), upstreamReached: true, applied: 'unknown', upstreamHealth: 'failure', callOutcome: 'timeout', outage: false, retryAfter: undefined }],
    ['a reset after sending', unreachable('ECONNRESET'),
      { status: 502, problemType: type('upstream-unreachable'), upstreamReached: true, applied: 'unknown', upstreamHealth: 'failure', callOutcome: 'unreachable', outage: false, retryAfter: undefined }],
    ['a refused connection', unreachable('ECONNREFUSED'),
      { status: 502, problemType: type('upstream-unreachable'), upstreamReached: false, applied: 'no', upstreamHealth: 'failure', callOutcome: 'unreachable', outage: false, retryAfter: undefined }],
    ['a TLS failure', unreachable('ERR_SSL_WRONG_VERSION_NUMBER'),
      { status: 502, problemType: type('upstream-unreachable'), upstreamReached: false, applied: 'no', upstreamHealth: 'failure', callOutcome: 'unreachable', outage: false, retryAfter: undefined }],
    ['a 500 answer', new UpstreamFault('f', 'p', 500),
      { status: 502, problemType: type('upstream-fault'), upstreamReached: true, applied: 'unknown', upstreamHealth: 'failure', callOutcome: 'fault', outage: false, retryAfter: undefined }],
    ['a 503 page from a proxy in front', new UpstreamFault('f', 'p', 503),
      { status: 502, problemType: type('upstream-fault'), upstreamReached: true, applied: 'no', upstreamHealth: 'failure', callOutcome: 'fault', outage: false, retryAfter: undefined }],
    ['errorCode 99 under 503', new UpstreamFault('f', 'p', 503, ErrorCode.InternalError),
      { status: 502, problemType: type('upstream-fault'), upstreamReached: true, applied: 'unknown', upstreamHealth: 'failure', callOutcome: 'fault', outage: false, retryAfter: undefined }],
    ['a misread answer', new UpstreamMisread('m', 'p', 404),
      { status: 502, problemType: type('upstream-misread'), upstreamReached: true, applied: 'unknown', upstreamHealth: 'success', callOutcome: 'misread', outage: false, retryAfter: undefined }],
    ['an unreadable answer', new UpstreamUnreadable('u', 'p'),
      { status: 502, problemType: type('upstream-unreadable'), upstreamReached: true, applied: 'unknown', upstreamHealth: 'failure', callOutcome: 'unreadable', outage: false, retryAfter: undefined }],
    ['a refused signature', new UpstreamAuthFailure('a', 'p', ErrorCode.SignatureMismatch),
      { status: 502, problemType: type('upstream-auth'), upstreamReached: true, applied: 'no', upstreamHealth: 'success', callOutcome: 'credentials', outage: false, retryAfter: undefined }],
    ['an open circuit', new UpstreamCircuitOpen('o', 'p', 7),
      { status: 503, problemType: type('upstream-circuit-open'), upstreamReached: false, applied: 'no', upstreamHealth: 'neutral', callOutcome: 'circuit-open', outage: true, retryAfter: 7 }],
    ['Redis down', new SessionStoreUnavailable('down'),
      { status: 503, problemType: type('store-unavailable'), upstreamReached: false, applied: 'no', upstreamHealth: 'neutral', callOutcome: 'fault', outage: true, retryAfter: 2 }],
    ['draining', new ServiceUnavailable('draining'),
      { status: 503, problemType: type('unavailable'), upstreamReached: false, applied: 'no', upstreamHealth: 'neutral', callOutcome: 'fault', outage: true, retryAfter: 5 }],
    ['an identity provider not yet discovered', new IdentityProviderUnavailable('not yet'),
      { status: 503, problemType: type('identity-provider-unavailable'), upstreamReached: false, applied: 'no', upstreamHealth: 'neutral', callOutcome: 'fault', outage: true, retryAfter: 5 }],
    ['a bug', new InternalError('bug'),
      { status: 500, problemType: type('internal'), upstreamReached: false, applied: 'unknown', upstreamHealth: 'neutral', callOutcome: 'fault', outage: false, retryAfter: undefined }],
    ['a rate limit', new TooManyRequests(3),
      { status: 429, problemType: type('rate-limited'), upstreamReached: false, applied: 'no', upstreamHealth: 'neutral', callOutcome: 'fault', outage: false, retryAfter: 3 }],
  ])('%s', (_name, err, expected) => {
    expect(classification(err)).toEqual(expected);
  });

  it('keeps the status and problem type of every refusal of the service itself', () => {
    const rows = [
      new BadRequest(), new Unauthenticated(), new Forbidden(), new NotFound(), new MethodNotAllowed(), new Conflict(),
      new PayloadTooLarge(), new UnsupportedMediaType(), new UnprocessableEntity(), new InsecureTransport(),
    ].map((e) => [e.status, e.problemType, e.applied, e.upstreamReached]);
    expect(rows).toEqual([
      [400, type('bad-request'), 'no', false],
      [401, type('unauthenticated'), 'no', false],
      [403, type('forbidden'), 'no', false],
      [404, type('not-found'), 'no', false],
      [405, type('method-not-allowed'), 'no', false],
      [409, type('conflict'), 'no', false],
      [413, type('payload-too-large'), 'no', false],
      [415, type('unsupported-media-type'), 'no', false],
      [422, type('unprocessable'), 'no', false],
      [500, type('insecure-transport'), 'unknown', false],
    ]);
  });

  it('a proxy status of UPSTREAM_NOT_APPLIED_STATUSES applied nothing; the same status with an envelope may have', () => {
    const statuses = new Set([502, 503]);
    expect(new UpstreamFault('f', 'p', 502, undefined, { notAppliedStatuses: statuses }).applied).toBe('no');
    expect(new UpstreamFault('f', 'p', 502).applied).toBe('unknown');
    expect(new UpstreamFault('f', 'p', 502, ErrorCode.InternalError, { notAppliedStatuses: statuses }).applied).toBe('unknown');
  });

  it("carries the upstream's errorCode and status where it gave them, as problem members and span attributes read them", () => {
    const auth = new UpstreamAuthFailure('a', 'p', ErrorCode.StaleSignature);
    expect([auth.upstreamErrorCode, auth.upstreamHttpStatus, auth.extra]).toEqual([8, undefined, { upstreamErrorCode: 8 }]);
    const fault = new UpstreamFault('f', 'p', 500, ErrorCode.InternalError);
    expect([fault.upstreamErrorCode, fault.upstreamHttpStatus, fault.extra]).toEqual([99, 500, { upstreamErrorCode: 99 }]);
    const bare = new UpstreamFault('f', 'p', 500);
    expect([bare.upstreamErrorCode, bare.upstreamHttpStatus, bare.extra]).toEqual([undefined, 500, undefined]);
    expect(new UpstreamTimeout('t', 'p').upstreamErrorCode).toBeUndefined();
  });

  it('keeps its cause', () => {
    const cause = new Error('socket');
    expect(new UpstreamTimeout('t', 'p', { cause }).cause).toBe(cause);
    expect(new BadRequest('b', { cause }).cause).toBe(cause);
  });
});
