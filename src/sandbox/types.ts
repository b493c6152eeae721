import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProgramDefinition } from './program-types';

/** One set of partner credentials. The same id may appear twice with two secrets (rotation). */
export interface SandboxPartner {
  id: string;
  secret: string;
}

/**
 * Readings of the upstream that the public summary leaves open. By default the simulator
 * accepts every reading and checks raw bytes only; each setting narrows it to one reading.
 */
export interface SandboxReadings {
  /** `php`: body and `data_header` must be exactly PHP `json_encode` output; `standard`: `JSON.stringify` output. Default `any`. */
  jsonEncoding?: 'php' | 'standard' | 'any';
  /** `object`: `{"Name":"value"}`; `list`: `["Name: value"]` (a PHP cURL header array). Default `any`. */
  signedHeadersFormat?: 'object' | 'list' | 'any';
  /**
   * `{}` or `[]`: a body without parameters must be written so (an upstream that decodes PHP arrays
   * re-encodes an empty one as `[]`, one that decodes objects as `{}`). Default `any`.
   */
  emptyBody?: '{}' | '[]' | 'any';
  /** Header carrying the signature JWT. Default `Authorization`, as `Bearer <jwt>`. */
  signatureHeader?: string;
  /**
   * Behave as an upstream that decodes the body and compares its PHP re-encoding with
   * `data_body` (instead of comparing raw bytes): a body that re-encodes to `data_body` is
   * accepted, and a body whose re-encoding differs (a `JSON.stringify` URL or accent) is refused.
   */
  reEncodeCheck?: boolean;
}

export interface SandboxOptions {
  partners: SandboxPartner[];
  /** Accepted distance between `iat` and the simulator's clock, both ways. Default 300. */
  clockSkewSeconds?: number;
  /** Life of a back-end token from `auth/token`. Default 3600. */
  backendTokenTtlSeconds?: number;
  readings?: SandboxReadings;
  /** Milliseconds since the epoch; tests inject their own clock. Default `Date.now`. Answers carry it as their `Date` header. */
  now?: () => number;
  /** One line per call; never holds a secret or a token. */
  logger?: (line: string) => void;
  /** The loyalty program served; default the demo program. */
  program?: ProgramDefinition;
}

/** What the simulator saw of one request, and what it answered. */
export interface SandboxCall {
  /** Endpoint path relative to the base path (`partner/getprog`), or the raw URL path when unknown. */
  path: string;
  /** The `sub` claim of the signature JWT, `""` when none could be read. */
  sub: string;
  /** The request body as text (cut after 256 KiB). */
  body: string;
  /** Request headers, names in lower case. */
  headers: Record<string, string>;
  /** Envelope errorCode answered; -1 when no envelope was answered (a fault). */
  errorCode: number;
  /** HTTP status answered; 0 when the connection was destroyed without an answer. */
  status: number;
  /** Arrival time, ms since the epoch (the simulator's clock). */
  at: number;
}

export type FaultKind = 'delay' | 'status' | 'garbage' | 'reset' | 'drop-after-commit' | 'delay-after-commit';

export interface FaultRule {
  /** Endpoint path (`gift/checkavailability`); every path when absent. */
  path?: string;
  kind: FaultKind;
  /** For `delay` and `delay-after-commit`. */
  ms?: number;
  /** For `status`; default 503. */
  status?: number;
  /** How many matching calls it applies to; default without end. */
  times?: number;
}

/** Programmatic controls shared by the standalone server and the embeddable handler. */
export interface SandboxControls {
  /** The readings in force, every default filled in. */
  readonly readings: Readonly<Required<SandboxReadings>>;
  /** The last 10,000 calls, oldest first. */
  readonly calls: readonly SandboxCall[];
  /** Calls since start or the last `resetCalls`, for one path or all. */
  callCount(path?: string): number;
  resetCalls(): void;
  injectFault(rule: FaultRule): void;
  clearFaults(): void;
  /** Every back-end token issued so far becomes invalid (errorCode 10). */
  expireBackendTokens(): void;
  /** Every `userToken` of that user dies, as if they logged out elsewhere (errorCode 3). */
  killUserTokens(partnerClientId: string): void;
  /** Balance of a user; `undefined` when the user does not exist. */
  userPoints(partnerClientId: string): number | undefined;
}

export type SandboxRequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface SandboxHandler extends SandboxControls {
  readonly handler: SandboxRequestHandler;
  /** Cancels answers still waiting on a delay fault (their sockets are destroyed). */
  dispose(): void;
}

export interface Sandbox extends SandboxControls {
  /** Base URL ending with `/`, e.g. `http://127.0.0.1:8787/2.0/`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface SandboxServerOptions extends SandboxOptions {
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default `/2.0/`. */
  basePath?: string;
}

export interface SandboxHandlerOptions extends SandboxOptions {
  /** Default `/2.0/`. */
  basePath?: string;
}
