import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ErrorCode, refuse } from './errors';
import { reEncodeJson } from './json-text';
import type { SandboxPartner, SandboxReadings } from './types';

/**
 * The signature checks of UPSTREAM.md ("What the upstream checks"), in their order:
 * a well-formed HS256 JWT, a known `iss`, the HMAC, `iat`, `data_body`, `data_header`.
 * Which token `sub` must hold depends on the endpoint and on live state, so it is left to the caller.
 */

export interface VerifierSettings {
  readonly partners: readonly SandboxPartner[];
  readonly clockSkewSeconds: number;
  readonly readings: Required<SandboxReadings>;
  readonly now: () => number;
}

export interface VerifiedSignature {
  readonly partnerId: string;
  readonly sub: string;
}

/** Headers the upstream requires in `data_header`, in lower case. */
const REQUIRED_SIGNED_HEADERS = ['content-type', 'accept', 'x-request-id'] as const;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function mismatch(message: string): never {
  refuse(ErrorCode.SignatureMismatch, message);
}

function headerValue(headers: IncomingHttpHeaders, lowerName: string): string | undefined {
  const value = headers[lowerName];
  return Array.isArray(value) ? value.join(', ') : value;
}

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  // A length of 1 mod 4 cannot come from any byte string: Node would silently drop it.
  if (segment.length === 0 || !BASE64URL.test(segment) || segment.length % 4 === 1) mismatch(`malformed JWT: ${what} is not base64url`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    mismatch(`malformed JWT: ${what} is not JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) mismatch(`malformed JWT: ${what} is not a JSON object`);
  return parsed as Record<string, unknown>;
}

export function extractJwt(headers: IncomingHttpHeaders, signatureHeader: string): string {
  const raw = headerValue(headers, signatureHeader.toLowerCase());
  if (raw === undefined || raw.trim() === '') mismatch(`missing signature JWT in ${signatureHeader}`);
  const bearer = /^Bearer +(\S+)$/i.exec(raw);
  if (signatureHeader.toLowerCase() === 'authorization') {
    if (!bearer?.[1]) mismatch('malformed Authorization header: expected "Bearer <JWT>"');
    return bearer[1];
  }
  // Another header may carry the JWT bare or after "Bearer ": the summary does not say which.
  return bearer?.[1] ?? raw.trim();
}

function signatureMatches(signingInput: string, signature: string, secrets: readonly string[]): boolean {
  const given = Buffer.from(signature, 'utf8');
  let matched = false;
  for (const secret of secrets) {
    // Compared as base64url text so that a non-canonical encoding of the right bytes is refused too.
    const expected = Buffer.from(createHmac('sha256', secret).update(signingInput).digest('base64url'), 'utf8');
    if (expected.length === given.length && timingSafeEqual(expected, given)) matched = true;
  }
  return matched;
}

function checkBody(dataBody: string, rawBody: Buffer, readings: Required<SandboxReadings>): void {
  const text = rawBody.toString('utf8');
  if (readings.reEncodeCheck) {
    const reEncoded = reEncodeJson(text, 'php');
    // An undecodable body is not a signature matter: it is refused as "not a JSON object" later.
    if (reEncoded !== undefined && reEncoded !== dataBody) mismatch('signature mismatch: data_body differs from the PHP re-encoding of the body');
    if (reEncoded === undefined && !Buffer.from(dataBody, 'utf8').equals(rawBody)) mismatch('signature mismatch: data_body differs from the request body');
  } else if (!Buffer.from(dataBody, 'utf8').equals(rawBody)) {
    mismatch('signature mismatch: data_body differs from the request body');
  }
  if (readings.emptyBody !== 'any') {
    const bare = text.trim();
    if ((bare === '{}' || bare === '[]') && bare !== readings.emptyBody) mismatch(`signature mismatch: a body without parameters must be ${readings.emptyBody}`);
  }
  if (readings.jsonEncoding !== 'any') {
    const canonical = reEncodeJson(text, readings.jsonEncoding);
    if (canonical !== undefined && canonical !== text) mismatch(`signature mismatch: the body is not ${readings.jsonEncoding} JSON encoding`);
  }
}

/** The signed headers as [name, value] pairs, in whichever format the readings allow. */
function signedHeaderEntries(dataHeader: string, readings: Required<SandboxReadings>): Array<[string, string]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(dataHeader);
  } catch {
    mismatch('signature mismatch: data_header is not JSON');
  }
  if (readings.jsonEncoding !== 'any' && reEncodeJson(dataHeader, readings.jsonEncoding) !== dataHeader) {
    mismatch(`signature mismatch: data_header is not ${readings.jsonEncoding} JSON encoding`);
  }
  if (Array.isArray(parsed)) {
    if (readings.signedHeadersFormat === 'object') mismatch('signature mismatch: data_header must be a JSON object');
    return parsed.map((line): [string, string] => {
      if (typeof line !== 'string') mismatch('signature mismatch: data_header entries must be "Name: value" strings');
      const colon = line.indexOf(':');
      if (colon <= 0) mismatch('signature mismatch: data_header entries must be "Name: value" strings');
      return [line.slice(0, colon).trim(), line.slice(colon + 1).replace(/^[ \t]+/, '')];
    });
  }
  if (parsed !== null && typeof parsed === 'object') {
    if (readings.signedHeadersFormat === 'list') mismatch('signature mismatch: data_header must be a JSON list of "Name: value"');
    return Object.entries(parsed).map(([name, value]): [string, string] => {
      if (typeof value !== 'string') mismatch(`signature mismatch: data_header value of ${name} is not a string`);
      return [name, value];
    });
  }
  mismatch('signature mismatch: data_header must be a JSON object or list');
}

function checkHeaders(dataHeader: string, headers: IncomingHttpHeaders, readings: Required<SandboxReadings>): void {
  const signed = new Set<string>();
  for (const [name, value] of signedHeaderEntries(dataHeader, readings)) {
    const lower = name.toLowerCase();
    signed.add(lower);
    const actual = headerValue(headers, lower);
    if (actual === undefined) mismatch(`signature mismatch: signed header ${name} is missing from the request`);
    if (actual !== value) mismatch(`signature mismatch: header ${name} differs from its signed value`);
  }
  for (const name of REQUIRED_SIGNED_HEADERS) {
    if (!signed.has(name)) mismatch(`signature mismatch: data_header must include ${name}`);
  }
}

/** Checks the signature JWT of a request; throws a `SandboxRefusal` (1, 8 or 9) when it fails. */
export function verifySignature(headers: IncomingHttpHeaders, rawBody: Buffer, settings: VerifierSettings): VerifiedSignature {
  const jwt = extractJwt(headers, settings.readings.signatureHeader);
  const parts = jwt.split('.');
  if (parts.length !== 3) mismatch('malformed JWT: expected three segments');
  const [headerPart = '', payloadPart = '', signaturePart = ''] = parts;

  const protectedHeader = decodeSegment(headerPart, 'header');
  if (protectedHeader.alg !== 'HS256') mismatch('malformed JWT: alg must be HS256');
  if (protectedHeader.typ !== 'JWT') mismatch('malformed JWT: typ must be JWT');
  const claims = decodeSegment(payloadPart, 'payload');

  if (typeof claims.iss !== 'string') mismatch('malformed JWT: iss must be a string');
  const secrets = settings.partners.filter((p) => p.id === claims.iss).map((p) => p.secret);
  if (secrets.length === 0) refuse(ErrorCode.UnknownPartner, 'unknown partner');
  if (!BASE64URL.test(signaturePart) || !signatureMatches(`${headerPart}.${payloadPart}`, signaturePart, secrets)) {
    mismatch('signature mismatch: wrong HMAC');
  }

  const iat = claims.iat;
  if (typeof iat !== 'number' || !Number.isInteger(iat)) refuse(ErrorCode.StaleSignature, 'invalid iat: must be an integer');
  const nowSeconds = Math.floor(settings.now() / 1000);
  if (Math.abs(nowSeconds - iat) > settings.clockSkewSeconds) refuse(ErrorCode.StaleSignature, 'stale signature: iat outside the accepted window');

  if (typeof claims.data_body !== 'string') mismatch('malformed JWT: data_body must be a string');
  checkBody(claims.data_body, rawBody, settings.readings);
  if (typeof claims.data_header !== 'string') mismatch('malformed JWT: data_header must be a string');
  checkHeaders(claims.data_header, headers, settings.readings);

  if (typeof claims.sub !== 'string') mismatch('malformed JWT: sub must be a string');
  return { partnerId: claims.iss, sub: claims.sub };
}

/** The `sub` claim when the JWT can be read at all, for the call log; never verified here. */
export function peekSubject(headers: IncomingHttpHeaders, signatureHeader: string): string {
  try {
    const payload = extractJwt(headers, signatureHeader).split('.')[1] ?? '';
    const sub = decodeSegment(payload, 'payload').sub;
    return typeof sub === 'string' ? sub : '';
  } catch {
    return '';
  }
}
