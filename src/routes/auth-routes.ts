import { randomBytes } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { parse as parseCookies } from 'cookie';
import type { Settings } from '../config/settings';
import { BadRequest, SIGN_IN_FAILURES, SignInRefused, type SignInFailure } from '../errors';
import type { RateLimits } from '../http/rate-limits';
import { requestContextOf } from '../http/request-context';
import { traceparentOf } from '../http/request-id';
import { safeReturnTo } from '../http/return-to';
import type { Route } from '../http/router';
import type { Logger } from '../observability/logger';
import { boundedLabel } from '../observability/metric-labels';
import type { Metrics } from '../observability/metrics';
import type { KeyValueStore } from '../redis/key-value-store';
import { createConnectUser } from '../session/connect-user';
import { identityFromClaims, type Identity } from '../session/identity';
import type { LoginChecks, OidcClient } from '../session/oidc-client';
import { createOidcSessionIndex } from '../session/oidc-session-index';
import type { Sessions } from '../session/sessions';
import type { UpstreamClient } from '../upstream/client';
import { ErrorCode } from '../upstream/error-code';

export interface AuthRoutesDeps {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly store: KeyValueStore;
  readonly sessions: Sessions;
  readonly oidcClient: OidcClient;
  /** The upstream client: the callback's connect and the logout's `user/logout`. */
  readonly client: UpstreamClient;
  /** Every request to these routes, per client IP; the callback also counts as a connect. */
  readonly rateLimits?: RateLimits;
  /** Counts the sign-ins by outcome (`miles_bff_sign_ins_total`). */
  readonly metrics?: Metrics;
}

/** The outcome label of a refused sign-in: any other error a provider sends is `other`. */
const failureLabel = boundedLabel<string>(SIGN_IN_FAILURES);

type AsyncHandler = (req: Request, res: Response) => Promise<void>;

/** A sign-in in progress, as kept in the store under the login cookie's id. */
interface PendingLogin extends LoginChecks {
  readonly returnTo: string;
}

/** The session keys the OIDC routes keep in `SessionExtra`. */
export const OIDC_EXTRA = { sid: 'oidcSid', sub: 'oidcSub', idToken: 'oidcIdToken' } as const;

/**
 * The OpenID Connect routes of `IDENTITY_MODE=oidc` under `/api/auth/`: the sign-in (`login`,
 * `callback`), the logout that ends the provider session too (`logout`), and the provider's
 * back-channel logout. They are navigations and a provider's server call, so the browser guard's
 * `X-CSRF` and `Origin` rules do not apply to them (by route): `state` bound to a short-lived
 * HttpOnly cookie, the nonce, PKCE and the logout token's signature protect them instead.
 */
export function oidcAuthRoutes(deps: AuthRoutesDeps): Route[] {
  const { settings, logger, store, sessions, oidcClient } = deps;
  const oidc = settings.identity.oidc;
  if (!oidc) throw new Error('oidcAuthRoutes: IDENTITY_MODE=oidc settings are missing');
  const s = settings.session;
  const sessionIndex = createOidcSessionIndex(store, settings.redis.keyPrefix, s.absoluteTtlSeconds * 1000);
  const connectEndpoint = settings.catalogue.front.find((e) => e.sessionEffect === 'connect')!;
  const connectUser = createConnectUser({ client: deps.client, sessions, endpoint: connectEndpoint, logger });
  const logoutEndpoint = settings.catalogue.front.find((e) => e.sessionEnd === 'logout');
  const loginCookie = `${s.cookieName}.login`;
  const loginTtlMs = oidc.loginTtlSeconds * 1000;
  const loginKey = (id: string): string => `${settings.redis.keyPrefix}oidc-login:${id}`;
  // SameSite=Lax: the provider's redirect to the callback is a cross-site top-level navigation.
  const loginCookieOptions = { httpOnly: true, secure: s.cookieSecure, sameSite: 'lax', path: '/' } as const;

  function redirect(res: Response, location: string): void {
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(302, location);
  }
  function signInFailed(req: Request, res: Response, reason: SignInFailure, cause?: unknown): void {
    deps.metrics?.signIns.inc({ outcome: failureLabel(reason) });
    logger.warn({ requestId: requestContextOf(res).requestId, reason, err: cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : undefined }, 'sign-in refused');
    redirect(res, `/?signin_error=${encodeURIComponent(reason)}`);
  }

  const login: AsyncHandler = async (req, res) => {
    const returnTo = safeReturnTo(req.query.returnTo);
    if (oidcClient.status() !== 'ok') {
      signInFailed(req, res, 'provider_unavailable');
      return;
    }
    const { url, checks } = await oidcClient.startLogin();
    const loginId = randomBytes(24).toString('base64url');
    const pending: PendingLogin = { ...checks, returnTo };
    await store.set(loginKey(loginId), JSON.stringify(pending), { ttlMs: loginTtlMs });
    res.cookie(loginCookie, loginId, { ...loginCookieOptions, maxAge: loginTtlMs });
    redirect(res, url.href);
  };

  /** The sign-in the login cookie names, taken from the store once: a replayed callback finds nothing. */
  async function takePendingLogin(req: Request): Promise<PendingLogin | undefined> {
    const loginId = req.headers.cookie ? parseCookies(req.headers.cookie)[loginCookie] : undefined;
    if (!loginId || !/^[A-Za-z0-9_-]{32}$/.test(loginId)) return undefined;
    const key = loginKey(loginId);
    const text = await store.get(key);
    if (text === null || !(await store.deleteIfEquals(key, text))) return undefined;
    try {
      return JSON.parse(text) as PendingLogin;
    } catch {
      return undefined;
    }
  }

  const callback: AsyncHandler = async (req, res) => {
    const pending = await takePendingLogin(req);
    res.clearCookie(loginCookie, loginCookieOptions);
    if (!pending) {
      signInFailed(req, res, 'login_expired');
      return;
    }
    if (req.query.state !== pending.state) {
      signInFailed(req, res, 'state_mismatch');
      return;
    }
    const callbackUrl = new URL(oidc.redirectUrl);
    const query = req.originalUrl.indexOf('?');
    callbackUrl.search = query >= 0 ? req.originalUrl.slice(query) : '';
    let claims: Readonly<Record<string, unknown>>;
    let idToken: string;
    let identity: Identity;
    try {
      ({ claims, idToken } = await oidcClient.finishLogin(callbackUrl, pending));
      identity = identityFromClaims(claims, oidc.userClaim, () => new SignInRefused('invalid_identity', `The ID token's ${oidc.userClaim} is not a valid partnerClientId.`));
    } catch (err) {
      if (!(err instanceof SignInRefused)) throw err;
      signInFailed(req, res, err.reason, err);
      return;
    }
    const sub = String(claims.sub);
    const sid = typeof claims.sid === 'string' && claims.sid ? claims.sid : undefined;
    const outcome = await connectUser.connect(req, res, {
      identity,
      fields: {},
      transport: 'cookie',
      requestId: requestContextOf(res).requestId,
      traceparent: traceparentOf(req.headers.traceparent),
      extra: { [OIDC_EXTRA.sub]: sub, [OIDC_EXTRA.idToken]: idToken, ...(sid ? { [OIDC_EXTRA.sid]: sid } : {}) },
    });
    requestContextOf(res).upstreamErrorCode = outcome.connected ? ErrorCode.Ok : outcome.upstream.errorCode;
    if (!outcome.connected) {
      signInFailed(req, res, 'upstream_refused');
      return;
    }
    await sessionIndex.add({ sid, sub }, outcome.session.id);
    deps.metrics?.signIns.inc({ outcome: 'signed-in' });
    redirect(res, pending.returnTo);
  };

  const logout: AsyncHandler = async (req, res) => {
    // A GET another site could link to: only our own pages (or a typed URL) end the session.
    if (req.headers['sec-fetch-site'] === 'cross-site') {
      redirect(res, '/');
      return;
    }
    const record = sessions.sessionDataOf(req);
    if (record) {
      const userToken = sessions.userTokenOf(req);
      if (userToken && logoutEndpoint) {
        const upstream = await deps.client.call({ endpoint: logoutEndpoint, sub: userToken, body: {}, requestId: requestContextOf(res).requestId });
        requestContextOf(res).upstreamErrorCode = upstream.errorCode;
      }
      await sessions.endCurrent(req, res, 'logout');
      await sessions.revokeUser(record.user.partnerClientId, 'logout');
    }
    const endSession = oidcClient.endSessionUrl(record?.extra?.[OIDC_EXTRA.idToken]);
    redirect(res, endSession?.href ?? oidc.postLogoutRedirectUrl);
  };

  const backchannelLogout: AsyncHandler = async (req, res) => {
    const token = (req.body as Record<string, unknown> | undefined)?.logout_token;
    if (typeof token !== 'string' || token.length === 0) throw new BadRequest('logout_token is required (application/x-www-form-urlencoded).');
    let subject;
    try {
      subject = await oidcClient.verifyLogoutToken(token);
    } catch (err) {
      if (!(err instanceof SignInRefused)) throw err;
      throw new BadRequest('The logout token was refused.', { cause: err });
    }
    const lifeMs = subject.exp ? subject.exp * 1000 - Date.now() : 0;
    if (!(await sessionIndex.firstUseOf(subject.jti, Math.max(loginTtlMs, lifeMs + 600_000)))) {
      throw new BadRequest('The logout token was already used.');
    }
    const ids = await sessionIndex.sessionsOf(subject);
    const ended = await sessions.revokeSessions(ids, 'provider-logout');
    await sessionIndex.forget(subject, ids);
    logger.info({ requestId: requestContextOf(res).requestId, ended }, 'back-channel logout');
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).end();
  };

  const limits = deps.rateLimits ?? {};
  const perIp = limits.perIp ? [limits.perIp] : [];
  const connectLimit = limits.connect ? [limits.connect] : [];
  const form = express.urlencoded({ extended: false, limit: '16kb', type: 'application/x-www-form-urlencoded' });
  // Their own guard: the per-IP limit only. No HEAD: a HEAD of the login or the callback would start or use up a sign-in.
  return [
    { path: '/api/auth/login', guard: perIp, head: false, methods: { GET: [login] } },
    { path: '/api/auth/callback', guard: perIp, head: false, methods: { GET: [...connectLimit, sessions.load, callback] } },
    { path: '/api/auth/logout', guard: perIp, head: false, methods: { GET: [sessions.load, logout] } },
    { path: '/api/auth/backchannel-logout', guard: perIp, methods: { POST: [form, backchannelLogout] } },
  ];
}
