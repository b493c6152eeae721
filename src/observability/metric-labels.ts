import { businessStatus, credentialErrorCodes } from '../upstream/status-map';

/**
 * Label values that come from outside (a request's method, an upstream's errorCode) folded into
 * fixed sets: each distinct value is a series of its own in every Prometheus that scrapes us, so
 * a caller or an upstream must not be able to mint new ones. Routes and endpoints are already
 * bounded: they are the catalogue's, or `unmatched`.
 */

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The request method, or `other` for any method the service does not route. */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'other';
}

/** The errorCodes UPSTREAM.md documents: the business ones, the credential ones, and 99. */
const ERROR_CODES: ReadonlySet<number> = new Set([...Object.keys(businessStatus).map(Number), ...credentialErrorCodes, 99]);

/** The upstream's errorCode as a label, or `other` for a code the API does not document. */
export function errorCodeLabel(errorCode: number): string {
  return ERROR_CODES.has(errorCode) ? String(errorCode) : 'other';
}
