/**
 * The upstream's errorCodes (UPSTREAM.md, "Envelope and HTTP status"), by name: code that
 * branches on one reads as what it means. Another code than these may still come back (the
 * real API may know more): an errorCode is read as a number and compared with these.
 */
export enum ErrorCode {
  Ok = 0,
  /** The partner (`iss`) is not known. */
  UnknownPartner = 1,
  InvalidParameter = 2,
  /** The `userToken` is invalid or expired: the user is not connected. */
  UserNotConnected = 3,
  NotEnoughPoints = 4,
  /** The gift is unknown or out of stock. */
  GiftUnavailable = 5,
  UnknownAction = 6,
  /** The same `action` and `param1` are already stored, or the action is over its per-user limit. */
  AlreadyApplied = 7,
  /** `iat` is outside the upstream's window. */
  StaleSignature = 8,
  /** HMAC, `data_body` or `data_header` mismatch, or a missing or malformed JWT. */
  SignatureMismatch = 9,
  ExpiredBackendToken = 10,
  UnknownUser = 11,
  InternalError = 99,
}
