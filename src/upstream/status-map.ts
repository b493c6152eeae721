import { boundedLabel } from '../observability/metric-labels';
import { ErrorCode } from './error-code';

/**
 * How an upstream errorCode becomes our HTTP status. Business answers (the
 * user's own doing) pass the envelope through; the rest are our faults.
 */
export const businessStatus: Readonly<Record<number, number>> = Object.freeze({
  [ErrorCode.Ok]: 200,
  [ErrorCode.InvalidParameter]: 400,
  [ErrorCode.UserNotConnected]: 401,
  [ErrorCode.NotEnoughPoints]: 409,
  [ErrorCode.GiftUnavailable]: 409,
  [ErrorCode.UnknownAction]: 404,
  [ErrorCode.AlreadyApplied]: 409,
  [ErrorCode.UnknownUser]: 404,
});

/** errorCodes that mean our partner credentials or signature were refused. */
export const credentialErrorCodes: ReadonlySet<number> = new Set([ErrorCode.UnknownPartner, ErrorCode.StaleSignature, ErrorCode.SignatureMismatch, ErrorCode.ExpiredBackendToken]);

export function isBusinessCode(errorCode: number): boolean {
  return Object.prototype.hasOwnProperty.call(businessStatus, errorCode);
}

/** The upstream's errorCode as a metric label: the codes UPSTREAM.md documents (business, credential, 99), any other as `other`. */
export const errorCodeLabel: (errorCode: number) => string = boundedLabel([...Object.keys(businessStatus).map(Number), ...credentialErrorCodes, ErrorCode.InternalError]);
