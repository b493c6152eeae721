import { boundedLabel } from '../observability/metric-labels';

/**
 * How an upstream errorCode becomes our HTTP status. Business answers (the
 * user's own doing) pass the envelope through; the rest are our faults.
 */
export const businessStatus: Readonly<Record<number, number>> = Object.freeze({
  0: 200,
  2: 400,
  3: 401,
  4: 409,
  5: 409,
  6: 404,
  7: 409,
  11: 404,
});

/** errorCodes that mean our partner credentials or signature were refused. */
export const credentialErrorCodes: ReadonlySet<number> = new Set([1, 8, 9, 10]);

export function isBusinessCode(errorCode: number): boolean {
  return Object.prototype.hasOwnProperty.call(businessStatus, errorCode);
}

/** The upstream's errorCode as a metric label: the codes UPSTREAM.md documents (business, credential, 99), any other as `other`. */
export const errorCodeLabel: (errorCode: number) => string = boundedLabel([...Object.keys(businessStatus).map(Number), ...credentialErrorCodes, 99]);
