import { TransportError } from '../upstream/http-transport';

/** Why an exchange with the upstream did not get an answer, for a message and a fix. */
export interface TransportFailure {
  readonly kind: 'tls' | 'timeout' | 'dns' | 'unreachable';
  /** Node's or the transport's code (`ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`…). */
  readonly code: string;
  readonly message: string;
}

/** OpenSSL's certificate verdicts and Node's TLS errors. */
const TLS_CODE = /CERT|SSL|TLS|EPROTO|SELF_SIGNED|UNABLE_TO_(VERIFY|GET_ISSUER)|HOSTNAME|ALTNAME/;

/** The transport error in `err` or its causes, if any. */
function transportErrorIn(err: unknown): TransportError | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    if (current instanceof TransportError) return current;
    current = current.cause;
  }
  return undefined;
}

/** Classifies a failed exchange; undefined when `err` is not a transport failure. */
export function transportFailureOf(err: unknown): TransportFailure | undefined {
  const transport = transportErrorIn(err);
  if (!transport) return undefined;
  const { code } = transport;
  if (code === 'ETIMEDOUT') return { kind: 'timeout', code, message: transport.message };
  if (TLS_CODE.test(code)) return { kind: 'tls', code, message: transport.message };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { kind: 'dns', code, message: transport.message };
  return { kind: 'unreachable', code, message: transport.message };
}

/** The operator's next step for a failure reaching `baseUrl`. */
export function fixFor(failure: TransportFailure, baseUrl: string, timeoutMs: number): string {
  const host = new URL(baseUrl).host;
  switch (failure.kind) {
    case 'tls':
      return `the TLS handshake with ${host} failed (${failure.code}): check that APM_BASE_URL names the upstream's host (its certificate must name it); a certificate from a private CA needs that CA trusted (NODE_EXTRA_CA_CERTS=/path/to/ca.pem); a proxy that intercepts TLS must be bypassed`;
    case 'timeout':
      return `${host} did not answer within APM_TIMEOUT_MS (${timeoutMs} ms): check egress rules, firewalls and proxies between this machine and the upstream`;
    case 'dns':
      return `the name ${new URL(baseUrl).hostname} does not resolve (${failure.code}): check APM_BASE_URL and this machine's DNS`;
    case 'unreachable':
      return `no connection to ${host} (${failure.code}): check APM_BASE_URL (scheme, host and port) and that egress to it is allowed`;
  }
}
