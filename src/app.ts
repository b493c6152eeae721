import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Settings } from './config/settings';
import { NotFound, ServiceUnavailable } from './errors';
import { accessLog } from './http/access-log';
import { createResponseCache, type ResponseCache } from './cache/response-cache';
import { createEarnResolution } from './http/earn-resolution';
import { createForwarding } from './http/forward';
import { createIdempotency, type Idempotency } from './http/idempotency';
import { internalAuth } from './http/internal-auth';
import { createRateLimits } from './http/rate-limits';
import { errorHandler } from './http/problem';
import { requestId } from './http/request-id';
import { listenerRouter } from './http/router';
import { createLifecycle, type Lifecycle } from './lifecycle';
import { createLogger, type Logger } from './observability/logger';
import { createMetrics, type Metrics } from './observability/metrics';
import { untraced } from './observability/tracing';
import { buildOpenApiDocument } from './openapi/document';
import type { KeyValueStore } from './redis/key-value-store';
import { createMemoryStore } from './redis/memory-store';
import { createRedisStore } from './redis/redis-store';
import { apiRoutes } from './routes/api-routes';
import { oidcAuthRoutes } from './routes/auth-routes';
import { internalRoutes } from './routes/internal-routes';
import { probeRoutes } from './routes/probes';
import { startSandbox, type Sandbox } from './sandbox';
import { createIdentitySource } from './session/identity';
import { createOidcClient } from './session/oidc-client';
import { createSessions, type Sessions } from './session/sessions';
import { createTokenCipher, deriveTokenKey } from './crypto/token-cipher';
import { createBackendToken, type BackendToken } from './upstream/backend-token';
import { createUpstreamClient, type UpstreamClient } from './upstream/client';
import { createSigner } from './upstream/signer';

export interface MilesApp {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly store: KeyValueStore;
  readonly sessions: Sessions;
  readonly client: UpstreamClient;
  /** The response cache of program and ads (`purge()` for `/internal/cache/purge`). */
  readonly cache: ResponseCache;
  /** Idempotency-Key records of the public mutations (stateless: every instance over the same store sees the same records). */
  readonly idempotency: Idempotency;
  /** The back-end token shared by every replica, for the `/internal` endpoints. */
  readonly backendToken: BackendToken;
  readonly lifecycle: Lifecycle;
  /** The `/api` listener's app. */
  readonly publicApp: Express;
  /** The `/internal`, probes and metrics listener's app. */
  readonly internalApp: Express;
  /** The in-process sandbox when no APM_BASE_URL was set. */
  readonly sandbox: Sandbox | undefined;
  close(): Promise<void>;
}

export interface CreateAppOptions {
  /** Where log lines go (tests read them back); stdout by default. */
  readonly logDestination?: import('pino').DestinationStream;
  /**
   * The process exports traces (server.ts started the OpenTelemetry SDK): log lines carry the
   * trace ids and each upstream call gets a span. Off by default, at no cost.
   */
  readonly tracing?: boolean;
}

/**
 * Builds the whole service from its settings: stores, upstream client,
 * sessions and both Express apps. Nothing listens yet (see server.ts), so
 * tests can run several instances in one process.
 */
export async function createApp(settings: Settings, options: CreateAppOptions = {}): Promise<MilesApp> {
  const tracing = options.tracing ?? false;
  const logger = createLogger({ level: settings.logLevel, traceFields: tracing, ...(options.logDestination ? { destination: options.logDestination } : {}) });
  const metrics = createMetrics();
  const lifecycle = createLifecycle();

  let sandbox: Sandbox | undefined;
  let baseUrl: string;
  let partnerId: string;
  let partnerSecret: string;
  if (settings.upstream.kind === 'remote') {
    ({ baseUrl, partnerId, partnerSecret } = settings.upstream);
  } else {
    partnerId = `sandbox-${randomBytes(4).toString('hex')}`;
    partnerSecret = randomBytes(32).toString('hex');
    // Strict in the dialect the APM_* settings name: a signer change that breaks it fails here, in development.
    const { jsonEncoding, signedHeadersFormat, emptyBody, signatureHeader } = settings.signing;
    sandbox = await startSandbox({
      partners: [{ id: partnerId, secret: partnerSecret }],
      port: 0,
      host: '127.0.0.1',
      readings: { jsonEncoding, signedHeadersFormat, emptyBody, signatureHeader },
    });
    baseUrl = sandbox.url;
    logger.warn(
      { sandboxUrl: baseUrl },
      'NO APM_BASE_URL: running the SANDBOX SIMULATOR in process with made-up credentials. Nothing reaches the real API. Set APM_BASE_URL, APM_PARTNER_ID and APM_PARTNER_SECRET to go live.',
    );
  }

  let store: KeyValueStore;
  if (settings.redis.connection) {
    const connection = settings.redis.connection;
    store = await untraced(() => createRedisStore({ connection, commandTimeoutMs: settings.redis.commandTimeoutMs, logger }));
  } else {
    store = createMemoryStore();
    logger.warn('NO REDIS_URL: sessions, cache and limits live in this process only (bounded, lost on restart, not shared by replicas).');
  }

  let secrets = settings.session.secrets;
  if (secrets.length === 0) {
    secrets = [randomBytes(32).toString('hex')];
    logger.warn('NO SESSION_SECRET: a random one was made for this process; sessions end when it restarts.');
  }

  const signer = createSigner({
    partnerId,
    partnerSecret,
    jsonEncoding: settings.signing.jsonEncoding,
    signedHeadersFormat: settings.signing.signedHeadersFormat,
    emptyBody: settings.signing.emptyBody,
    signatureHeader: settings.signing.signatureHeader,
  });
  const client = createUpstreamClient({
    baseUrl,
    timeoutMs: settings.upstreamTimeoutMs,
    maxSockets: settings.upstreamMaxSockets,
    signer,
    logger,
    metrics,
    circuitBreaker: settings.circuitBreaker,
    traced: tracing,
    notAppliedStatuses: new Set(settings.upstreamNotAppliedStatuses),
  });
  const sessions = createSessions({ settings, store, metrics, secrets });
  const backendToken = createBackendToken({
    store,
    client,
    keyPrefix: settings.redis.keyPrefix,
    cipher: createTokenCipher(settings.session.tokenEncryptionKeys.length ? settings.session.tokenEncryptionKeys : [deriveTokenKey(secrets[0]!)]),
    logger,
    metrics,
    upstreamTimeoutMs: settings.upstreamTimeoutMs,
    answer: settings.backendToken,
  });
  const publicOpenApi = JSON.stringify(
    buildOpenApiDocument('front', { sessionCookieName: settings.session.cookieName, identityMode: settings.identity.mode, endpoints: settings.catalogue.front }),
  );
  const servePublicOpenApi: RequestHandler = (_req, res) => {
    res.status(200).setHeader('Cache-Control', 'no-cache').type('application/json').send(publicOpenApi);
  };
  const oidcClient = settings.identity.oidc
    ? createOidcClient({ settings: settings.identity.oidc, logger, clockToleranceSeconds: settings.identity.clockToleranceSeconds })
    : undefined;
  const identity = createIdentitySource(settings.identity, oidcClient);
  const cache = createResponseCache({ settings, store, metrics, logger });
  const idempotency = createIdempotency({ settings, store, metrics, logger });
  const earnResolution = createEarnResolution({ actions: settings.idempotencyResolveActions, client, logger });
  const rateLimits = createRateLimits({ settings, store, sessions, metrics, logger });

  const refuseWhileDraining: RequestHandler = (_req, _res, next) => {
    if (lifecycle.draining) next(new ServiceUnavailable('The service is shutting down; retry.', 1));
    else next();
  };
  const notFound: RequestHandler = (req, _res, next) => next(new NotFound(`No route ${req.method} ${req.path}.`));

  const forwarding = createForwarding({
    logger,
    sessions,
    client,
    backendToken,
    cache,
    adsScopedByUser: settings.cache.adsScope === 'user',
    idempotency,
    earnResolution,
    programLanguages: settings.programLanguages,
  });

  const publicApp = express();
  publicApp.disable('x-powered-by');
  publicApp.set('trust proxy', settings.trustProxy);
  publicApp.set('etag', false);
  publicApp.use(requestId(), accessLog('public', logger, metrics), helmet(), refuseWhileDraining);
  publicApp.use(
    listenerRouter(
      [{ prefix: '/api' }],
      apiRoutes({
        settings,
        logger,
        sessions,
        identity,
        client,
        forwarding,
        rateLimits,
        catalogue: settings.catalogue,
        extraRoutes: [
          { path: '/api/openapi.json', methods: { GET: [servePublicOpenApi] } },
          ...(oidcClient ? oidcAuthRoutes({ settings, logger, store, sessions, client, oidcClient, rateLimits, metrics }) : []),
        ],
      }),
    ),
  );
  if (settings.demoPage) {
    // The demo page and the built browser client; from src/ and dist/ alike, both one level below the root.
    publicApp.use(express.static(join(__dirname, '..', 'public')));
    publicApp.use('/client', express.static(join(__dirname, '..', 'dist', 'client')));
  }
  publicApp.use(notFound);
  publicApp.use(errorHandler(logger));

  const internalApp = express();
  internalApp.disable('x-powered-by');
  internalApp.set('etag', false);
  internalApp.use(requestId(), accessLog('internal', logger, metrics), helmet());
  internalApp.use(
    listenerRouter(
      // The key is checked before resolution: an anonymous caller learns nothing, not even which paths exist.
      [{ prefix: '/internal', before: [internalAuth(settings.internalApiKeys)] }],
      [
        ...probeRoutes({ store, metrics, lifecycle, ...(oidcClient ? { identityProvider: () => oidcClient.status() } : {}) }),
        ...internalRoutes({ logger, sessions, forwarding, catalogue: settings.catalogue, purgeCache: () => cache.purge() })],
    ),
  );
  internalApp.use(notFound);
  internalApp.use(errorHandler(logger));

  return {
    settings,
    logger,
    metrics,
    store,
    sessions,
    client,
    cache,
    idempotency,
    backendToken,
    lifecycle,
    publicApp,
    internalApp,
    sandbox,
    async close() {
      oidcClient?.close();
      client.close();
      await store.close();
      if (sandbox) await sandbox.close();
    },
  };
}
