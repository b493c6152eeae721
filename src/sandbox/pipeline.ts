import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { DEMO_PROGRAM } from './demo-program';
import { endpointRule, type EndpointRule } from './endpoints';
import { ErrorCode, SandboxRefusal, refuse, type ErrorCodeValue } from './errors';
import { CallLog } from './call-log';
import { FaultBook, type FaultPlan } from './faults';
import { handlerFor } from './handlers';
import { encodeJson } from './json-text';
import { validateParams } from './params';
import { SandboxState, type UserRecord } from './state';
import type { SandboxCall, SandboxHandler, SandboxHandlerOptions, SandboxReadings } from './types';
import { peekSubject, verifySignature, type VerifiedSignature, type VerifierSettings } from './verify';
import type { JsonObject } from './views';

/** Larger bodies are refused unread: 1,000 ids of 128 characters fit many times over. */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

export const DEFAULT_BASE_PATH = '/2.0/';

interface Outcome {
  readonly status: number;
  readonly errorCode: ErrorCodeValue;
  readonly body: string;
}

function envelope(errorCode: ErrorCodeValue, errorMsg: string, data?: JsonObject): string {
  // The real upstream is PHP: answers are written as its json_encode would.
  return encodeJson(data === undefined ? { errorCode, errorMsg } : { errorCode, errorMsg, data }, 'php');
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export function normaliseBasePath(basePath: string): string {
  const trimmed = basePath.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '/' : `/${trimmed}/`;
}

function readSettings(options: SandboxHandlerOptions): VerifierSettings & { backendTokenTtlSeconds: number } {
  if (!Array.isArray(options.partners) || options.partners.length === 0) throw new TypeError('sandbox: at least one partner is needed');
  for (const p of options.partners) {
    if (typeof p.id !== 'string' || p.id === '' || typeof p.secret !== 'string' || p.secret === '') {
      throw new TypeError('sandbox: every partner needs a non-empty id and secret');
    }
  }
  const clockSkewSeconds = options.clockSkewSeconds ?? 300;
  if (!Number.isFinite(clockSkewSeconds) || clockSkewSeconds < 0) throw new RangeError('sandbox: clockSkewSeconds must be >= 0');
  const backendTokenTtlSeconds = options.backendTokenTtlSeconds ?? 3600;
  if (!Number.isInteger(backendTokenTtlSeconds) || backendTokenTtlSeconds <= 0) throw new RangeError('sandbox: backendTokenTtlSeconds must be a positive integer');
  const readings: Required<SandboxReadings> = {
    jsonEncoding: options.readings?.jsonEncoding ?? 'any',
    signedHeadersFormat: options.readings?.signedHeadersFormat ?? 'any',
    emptyBody: options.readings?.emptyBody ?? 'any',
    signatureHeader: options.readings?.signatureHeader ?? 'Authorization',
    reEncodeCheck: options.readings?.reEncodeCheck ?? false,
  };
  const oneOf = (name: keyof SandboxReadings, allowed: readonly unknown[]): void => {
    if (!allowed.includes(readings[name])) throw new RangeError(`sandbox: readings.${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  };
  oneOf('jsonEncoding', ['any', 'php', 'standard']);
  oneOf('signedHeadersFormat', ['any', 'object', 'list']);
  oneOf('emptyBody', ['any', '{}', '[]']);
  oneOf('reEncodeCheck', [true, false]);
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(readings.signatureHeader)) throw new RangeError('sandbox: readings.signatureHeader must be an HTTP header name');
  return { partners: [...options.partners], clockSkewSeconds, readings, now: options.now ?? Date.now, backendTokenTtlSeconds };
}

function parseBody(raw: Buffer, headers: IncomingHttpHeaders): Record<string, unknown> {
  const mediaType = (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') refuse(ErrorCode.InvalidParameter, 'Content-Type must be application/json', 400);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    refuse(ErrorCode.InvalidParameter, 'the body is not a JSON object', 400);
  }
  // PHP encodes an empty array and an empty object alike as `[]` when built from an array.
  if (Array.isArray(parsed) && parsed.length === 0) return {};
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) refuse(ErrorCode.InvalidParameter, 'the body is not a JSON object', 400);
  return parsed as Record<string, unknown>;
}

export function createSandboxHandler(options: SandboxHandlerOptions): SandboxHandler {
  const settings = readSettings(options);
  const basePath = normaliseBasePath(options.basePath ?? DEFAULT_BASE_PATH);
  const now = settings.now;
  const log = options.logger;
  const state = new SandboxState(options.program ?? DEMO_PROGRAM, now);
  const faults = new FaultBook();
  const callLog = new CallLog();
  const waiting = new Map<NodeJS.Timeout, ServerResponse>();

  function later(ms: number, res: ServerResponse, then: () => void): void {
    const timer = setTimeout(() => {
      waiting.delete(timer);
      then();
    }, ms);
    waiting.set(timer, res);
  }

  function subjectUser(rule: EndpointRule, signature: VerifiedSignature): UserRecord | undefined {
    switch (rule.subject) {
      case 'none':
        if (signature.sub !== '') refuse(ErrorCode.SignatureMismatch, `sub must be empty for ${rule.path}`);
        return undefined;
      case 'user':
        return state.userForToken(signature.sub, signature.partnerId) ?? refuse(ErrorCode.InvalidUserToken, 'invalid or expired userToken');
      case 'backend':
        if (!state.backendTokenIsLive(signature.sub, signature.partnerId)) refuse(ErrorCode.InvalidBackendToken, 'invalid or expired back-end token');
        return undefined;
    }
  }

  function outcomeOf(req: IncomingMessage, rule: EndpointRule | undefined, raw: Buffer, tooLarge: boolean): Outcome {
    try {
      if (req.method !== 'POST' || !rule) refuse(ErrorCode.InvalidParameter, 'unknown endpoint', 404);
      if (tooLarge) refuse(ErrorCode.InvalidParameter, 'request body too large', 413);
      const signature = verifySignature(req.headers, raw, settings);
      const user = subjectUser(rule, signature);
      const params = validateParams(rule, parseBody(raw, req.headers));
      const handler = handlerFor(rule.path);
      if (!handler) throw new Error(`no handler for ${rule.path}`);
      const data = handler({ state, partnerId: signature.partnerId, user, backendTokenTtlSeconds: settings.backendTokenTtlSeconds, now }, params);
      return { status: 200, errorCode: ErrorCode.Ok, body: envelope(ErrorCode.Ok, 'ok', data) };
    } catch (err) {
      if (err instanceof SandboxRefusal) return { status: err.status, errorCode: err.code, body: envelope(err.code, err.message) };
      log?.(`sandbox: internal error: ${err instanceof Error ? err.message : String(err)}`);
      return { status: 500, errorCode: ErrorCode.Internal, body: envelope(ErrorCode.Internal, 'internal error') };
    }
  }

  function respond(req: IncomingMessage, res: ServerResponse, raw: Buffer, rule: EndpointRule | undefined, tooLarge: boolean, fault: FaultPlan | undefined, call: Omit<SandboxCall, 'errorCode' | 'status'>): void {
    const finish = (status: number, errorCode: number): void => {
      callLog.record({ ...call, status, errorCode });
      log?.(`sandbox ${req.method ?? '?'} ${call.path} -> ${status === 0 ? 'connection dropped' : status} errorCode=${errorCode} ${now() - call.at}ms`);
    };
    const send = (status: number, contentType: string, body: string, errorCode: number): void => {
      if (res.destroyed || res.writableEnded) return finish(0, errorCode);
      // The simulator's own clock, so that a client measuring its skew against it sees the one the signatures are checked with.
      res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), Date: new Date(now()).toUTCString() });
      res.end(body);
      finish(status, errorCode);
    };
    const drop = (errorCode: number): void => {
      req.socket.destroy();
      finish(0, errorCode);
    };
    const answer = (): void => {
      const outcome = outcomeOf(req, rule, raw, tooLarge);
      if (fault?.kind === 'drop-after-commit') return drop(outcome.errorCode);
      if (fault?.kind === 'delay-after-commit') {
        return later(fault.ms, res, () => send(outcome.status, 'application/json', outcome.body, outcome.errorCode));
      }
      send(outcome.status, 'application/json', outcome.body, outcome.errorCode);
    };

    switch (fault?.kind) {
      case 'reset':
        return drop(-1);
      case 'status':
        return send(fault.status, 'text/html', `<html><body><h1>${fault.status}</h1>injected fault</body></html>`, -1);
      case 'garbage':
        return send(200, 'application/json', '{"errorCode":0,"errorMsg":"ok","data":{"gif', -1);
      case 'delay':
        return later(fault.ms, res, answer);
      default:
        return answer();
    }
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const at = now();
    const urlPath = (req.url ?? '/').split('?')[0] ?? '/';
    const relative = urlPath.startsWith(basePath) ? urlPath.slice(basePath.length) : undefined;
    const rule = relative === undefined ? undefined : endpointRule(relative);
    const path = rule ? rule.path : urlPath;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      const tooLarge = size > MAX_BODY_BYTES;
      const raw = tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks);
      const call = { path, sub: peekSubject(req.headers, settings.readings.signatureHeader), body: raw.toString('utf8'), headers: flatHeaders(req.headers), at };
      respond(req, res, raw, rule, tooLarge, faults.take(path), call);
    });
    req.on('error', () => {
      // The client went away mid-body: nothing to answer.
    });
  };

  return {
    handler,
    readings: Object.freeze({ ...settings.readings }),
    get calls() {
      return callLog.calls;
    },
    callCount: (path) => callLog.count(path),
    resetCalls: () => callLog.reset(),
    injectFault: (rule) => faults.inject(rule),
    clearFaults: () => faults.clear(),
    expireBackendTokens: () => state.expireBackendTokens(),
    killUserTokens: (partnerClientId) => state.killUserTokens(partnerClientId),
    userPoints: (partnerClientId) => state.findUser(partnerClientId)?.points,
    dispose: () => {
      for (const [timer, res] of waiting) {
        clearTimeout(timer);
        res.destroy();
      }
      waiting.clear();
    },
  };
}
