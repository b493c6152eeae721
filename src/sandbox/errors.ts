/** The upstream's errorCodes (UPSTREAM.md, "Envelope and HTTP status"). */
export const ErrorCode = {
  Ok: 0,
  UnknownPartner: 1,
  InvalidParameter: 2,
  InvalidUserToken: 3,
  NotEnoughPoints: 4,
  GiftUnavailable: 5,
  UnknownAction: 6,
  ActionAlreadyStored: 7,
  StaleSignature: 8,
  SignatureMismatch: 9,
  InvalidBackendToken: 10,
  UnknownUser: 11,
  Internal: 99,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status of each errorCode; a check of the request's credentials is 401. */
const STATUS: Readonly<Record<ErrorCodeValue, number>> = {
  0: 200,
  1: 401,
  2: 200,
  3: 401,
  4: 200,
  5: 200,
  6: 200,
  7: 200,
  8: 401,
  9: 401,
  10: 401,
  11: 200,
  99: 500,
};

export function statusOf(code: ErrorCodeValue): number {
  return STATUS[code];
}

/**
 * A refusal the simulator answers as an envelope. `status` overrides the code's usual HTTP
 * status where the transport decides it (unknown route 404, body not an object 400).
 */
export class SandboxRefusal extends Error {
  readonly code: ErrorCodeValue;
  readonly status: number;

  constructor(code: ErrorCodeValue, message: string, status?: number) {
    super(message);
    this.name = 'SandboxRefusal';
    this.code = code;
    this.status = status ?? statusOf(code);
  }
}

export function refuse(code: ErrorCodeValue, message: string, status?: number): never {
  throw new SandboxRefusal(code, message, status);
}
