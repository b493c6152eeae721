import type { Request, Response } from 'express';
import { InsecureTransport, UpstreamUnreadable } from '../errors';
import type { Logger } from '../observability/logger';
import type { EndpointSpec } from '../upstream/catalogue';
import type { UpstreamAnswer, UpstreamClient } from '../upstream/client';
import { ErrorCode } from '../upstream/error-code';
import type { Identity } from './identity';
import type { ConnectResult, SessionExtra, Sessions, SessionTransport } from './sessions';

/** What a connect asks for: who (from `IDENTITY_MODE`), what else goes upstream, and how the session travels. */
export interface ConnectRequest {
  readonly identity: Identity;
  /** The validated fields of the connect body other than the identity (consent, language, a catalogue file's). */
  readonly fields: Readonly<Record<string, unknown>>;
  readonly transport: SessionTransport;
  readonly requestId: string;
  readonly traceparent?: string | undefined;
  /** Small data kept with the session (the OIDC sid, sub and ID token hint). */
  readonly extra?: SessionExtra;
}

/**
 * The outcome: the upstream refused (its answer, no session), or a new session and the upstream
 * envelope without the `userToken` (plus the mobile transport's `session`).
 */
export type ConnectOutcome =
  | { readonly connected: false; readonly upstream: UpstreamAnswer }
  | { readonly connected: true; readonly session: ConnectResult; readonly envelope: Readonly<Record<string, unknown>> };

export interface ConnectUser {
  /** Refuses a cookie connect that no browser would keep (plain HTTP with `COOKIE_SECURE` on), before anything else is done. */
  checkTransport(req: Request, transport: SessionTransport, requestId: string): void;
  connect(req: Request, res: Response, request: ConnectRequest): Promise<ConnectOutcome>;
}

/**
 * The one connect procedure, whatever established the identity (the connect route, the OpenID
 * Connect callback): upstream `user/clientcheckcredentials`, then a new session id (no fixation)
 * holding the sealed `userToken`. `req` must have passed `sessions.load`.
 */
export function createConnectUser(deps: { readonly client: UpstreamClient; readonly sessions: Sessions; readonly endpoint: EndpointSpec; readonly logger: Logger }): ConnectUser {
  const { client, sessions, endpoint, logger } = deps;
  if (!endpoint.connect) throw new Error(`createConnectUser: ${endpoint.path} is not the connect (its catalogue entry has no connect reading)`);
  // Which fields name the user, and where the answer holds their token: the catalogue entry's.
  const { identityFields: identityNames, userField, tokenField } = endpoint.connect;
  const identityFields: ReadonlySet<string> = new Set(identityNames);
  function checkTransport(req: Request, transport: SessionTransport, requestId: string): void {
    if (transport === 'cookie' && sessions.cookieWouldBeDropped(req)) {
      logger.error(
        { requestId },
        'connect over plain HTTP with COOKIE_SECURE on: set TRUST_PROXY so the ingress\'s X-Forwarded-Proto is believed, or COOKIE_SECURE=false for plain-HTTP development',
      );
      throw new InsecureTransport(
        'The session cookie is Secure but this request arrived over plain HTTP: serve the service over HTTPS (with TRUST_PROXY naming the ingress) or set COOKIE_SECURE=false for plain-HTTP development.',
      );
    }
  }
  async function connect(req: Request, res: Response, request: ConnectRequest): Promise<ConnectOutcome> {
    checkTransport(req, request.transport, request.requestId);
    // The identity is IDENTITY_MODE's alone; every other validated field goes on.
    const body: Record<string, unknown> = { ...request.identity };
    for (const [name, value] of Object.entries(request.fields)) if (!identityFields.has(name) && value !== undefined) body[name] = value;
    const upstream = await client.call({
      endpoint,
      sub: '',
      body,
      requestId: request.requestId,
      ...(request.traceparent ? { traceparent: request.traceparent } : {}),
    });
    if (upstream.errorCode !== ErrorCode.Ok) return { connected: false, upstream };
    const data = upstream.envelope.data as Record<string, Record<string, unknown> | undefined> | undefined;
    const user = data?.[userField];
    const userToken = user?.[tokenField];
    if (typeof userToken !== 'string' || userToken.length === 0) {
      throw new UpstreamUnreadable('Upstream connect answer holds no userToken', endpoint.path);
    }
    const { [tokenField]: _dropped, ...publicUser } = user!;
    const session = await sessions.connect(req, res, request.identity, userToken, request.transport, request.extra);
    const envelope = { errorCode: ErrorCode.Ok, errorMsg: upstream.envelope.errorMsg, data: { ...data, [userField]: publicUser }, ...(session.session ? { session: session.session } : {}) };
    return { connected: true, session, envelope };
  }
  return { checkTransport, connect };
}
