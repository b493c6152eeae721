import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type ClientRateLimitInfo, type Logger as LimiterLogger, type Options, type Store } from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import type { Settings } from '../config/settings';
import { SessionStoreUnavailable, TooManyRequests } from '../errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { KeyValueStore } from '../redis/key-value-store';
import type { RedisKeyValueStore } from '../redis/redis-store';
import type { Sessions } from '../session/sessions';

export type LimitName = 'ip' | 'connect' | 'mutation';

/** The limits of `/api`, each a step of the routes it applies to; absent when the limits are off, so they cost no step. */
export interface RateLimits {
  /** Every /api request, per client IP. */
  readonly perIp?: RequestHandler;
  /** Connects, per client IP. */
  readonly connect?: RequestHandler;
  /** Mutations, per session. */
  readonly mutation?: RequestHandler;
}

export interface RateLimitsOptions {
  readonly settings: Settings;
  readonly store: KeyValueStore;
  readonly sessions: Pick<Sessions, 'userOf' | 'sessionDataOf'>;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/**
 * rate-limit-redis loads its Lua script once, at start. When Redis is down
 * then, the script's SHA stays a rejected promise and every later count
 * fails even after Redis is back. This store loads the script again at the
 * next count after a failed load, so the limits come back with Redis by
 * themselves.
 */
export class RecoveringRedisStore extends RedisStore {
  #scriptMissing = false;

  #watch(sha: Promise<string>): void {
    // Handled here, so a down Redis raises no unhandled rejection; the count awaiting it still fails.
    sha.catch(() => {
      if (this.incrementScriptSha === sha) this.#scriptMissing = true;
    });
  }

  override init(options: Options): Promise<void> {
    const done = super.init(options);
    this.#watch(this.incrementScriptSha);
    return done;
  }

  override increment(key: string): Promise<ClientRateLimitInfo> {
    if (this.#scriptMissing) {
      this.#scriptMissing = false;
      this.incrementScriptSha = this.loadIncrementScript();
      this.#watch(this.incrementScriptSha);
    }
    return super.increment(key);
  }
}

/** The NOSCRIPT reply behind a wrapped failure, if that is what it was. */
export function noScriptReply(err: unknown): Error | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth += 1) {
    if (/^NOSCRIPT(?:\s|$)/.test(e.message)) return e;
  }
  return undefined;
}

/** Store errors come once per request while Redis is down: one line per limit every few seconds. */
function limiterLogger(logger: Logger, limit: LimitName): LimiterLogger {
  let lastStoreError = 0;
  const summary = (error: unknown) => ({ code: (error as { code?: unknown }).code, message: (error as Error)?.message ?? String(error) });
  return {
    warn: (error, message) => logger.warn({ limit, err: summary(error) }, message ?? 'rate limiter warning'),
    error: (error, message) => {
      const now = Date.now();
      const fromStore = message?.includes('store');
      if (fromStore && now - lastStoreError < 5000) return;
      if (fromStore) lastStoreError = now;
      logger.error({ limit, err: summary(error) }, fromStore ? 'rate limit store unavailable: requests pass without this limit (fail open)' : (message ?? 'rate limiter error'));
    },
  };
}

/**
 * The three limits of `/api` (express-rate-limit), counted in Redis so that
 * every replica shares them (rate-limit-redis; express-rate-limit's own
 * MemoryStore when there is no Redis):
 * - `perIp`: every request, per client IP (`RATE_LIMIT_IP_MAX`);
 * - `connect`: connects, per client IP (`RATE_LIMIT_CONNECT_MAX`);
 * - `mutation`: mutations, per session: its user's partnerClientId, else
 *   the session id (`RATE_LIMIT_MUTATION_MAX`).
 * All over `RATE_LIMIT_WINDOW_SECONDS`, fixed windows starting at a key's
 * first hit. A refusal is `TooManyRequests` passed to `next` (the one error
 * handler answers 429 problem+json with `Retry-After`), with the IETF
 * draft-8 `RateLimit` and `RateLimit-Policy` headers, and is counted in
 * `miles_bff_rate_limit_refusals_total{limit}`. A failing Redis never fails
 * or holds a request: the command times out (REDIS_COMMAND_TIMEOUT_MS), the
 * limit lets the request through and logs (fail open).
 *
 * Client IPs come from Express' `trust proxy` (TRUST_PROXY). `true` or a
 * hop count trusts the `X-Forwarded-For` of any peer and lets a direct
 * caller pick its own IP: we warn once here, naming the setting, instead of
 * the library warning per limit.
 *
 * @example
 * const rateLimits = createRateLimits({ settings, store, sessions, metrics, logger });
 * apiRoutes({ ..., rateLimits });
 */
export function createRateLimits(options: RateLimitsOptions): RateLimits {
  const { settings, store, sessions, metrics, logger } = options;
  const s = settings.rateLimit;
  if (!s.enabled) {
    return {};
  }
  if (settings.trustProxy === true || typeof settings.trustProxy === 'number') {
    logger.warn(
      `TRUST_PROXY=${String(settings.trustProxy)} trusts whatever peer connects: a client reaching the port directly can choose the IP its rate limits count against. Name the ingress by its addresses or CIDRs instead.`,
    );
  }
  const windowMs = s.windowSeconds * 1000;
  // The store's own sendCommand: routed by key in a cluster (the script is loaded on each master it meets).
  const redis = store.kind === 'redis' ? (store as RedisKeyValueStore) : undefined;
  const sendCommand = async (...args: string[]): Promise<RedisReply> => {
    // Not connected: fail at once rather than queue (the client's offline queue is off too).
    if (!redis?.isReady()) throw new SessionStoreUnavailable('Redis is not connected (rate limit)');
    try {
      return (await redis.sendCommand(args)) as RedisReply;
    } catch (err) {
      // The store's client wraps every failure; rate-limit-redis recognises a script lost by a
      // Redis restart only by the reply's own NOSCRIPT message, and then loads it again.
      throw noScriptReply(err) ?? err;
    }
  };

  function limiter(name: LimitName, limit: number, keyGenerator?: (req: Request) => string): RequestHandler {
    const storeFor: Store | undefined = redis ? new RecoveringRedisStore({ sendCommand, prefix: `${settings.redis.keyPrefix}rl:${name}:` }) : undefined;
    const config: Partial<Options> = {
      windowMs,
      limit,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      identifier: name,
      passOnStoreError: true,
      logger: limiterLogger(logger, name),
      // trustProxy: TRUST_PROXY is explicit configuration, checked above. The other checks stay on.
      validate: { trustProxy: false },
      handler: (req, _res, next) => {
        metrics.rateLimitRefusals.inc({ limit: name });
        const info = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit;
        const resetAt = info?.resetTime?.getTime() ?? Date.now() + windowMs;
        const retryAfter = Math.max(1, Math.ceil((resetAt - Date.now()) / 1000));
        next(new TooManyRequests(retryAfter, `Too many requests (${name} limit: ${limit} per ${s.windowSeconds} s); retry after ${retryAfter} s.`));
      },
      ...(storeFor ? { store: storeFor } : {}),
      ...(keyGenerator ? { keyGenerator } : {}),
    };
    return rateLimit(config);
  }

  return {
    perIp: limiter('ip', s.ipMax),
    connect: limiter('connect', s.connectMax),
    mutation: limiter('mutation', s.mutationMax, (req) => {
      const user = sessions.userOf(req);
      if (user) return `u:${user.partnerClientId}`;
      // Mutations run after the session check, so there is always a session (hashed: a session id is a
      // credential); the IP is a last resort.
      const sessionId = sessions.sessionDataOf(req)?.id;
      return sessionId ? `s:${createHash('sha256').update(sessionId).digest('base64url')}` : `ip:${ipKeyGenerator(req.ip ?? '')}`;
    }),
  };
}
