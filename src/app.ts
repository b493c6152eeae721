import { randomBytes } from 'node:crypto';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Settings } from './config/settings';
import { NotFound, ServiceUnavailable } from './errors';
import { accessLog } from './http/access-log';
import { errorHandler } from './http/problem';
import { requestId } from './http/request-id';
import { createLifecycle, type Lifecycle } from './lifecycle';
import { createLogger, type Logger } from './observability/logger';
import { createMetrics, type Metrics } from './observability/metrics';
import type { KeyValueStore } from './redis/key-value-store';
import { createMemoryStore } from './redis/memory-store';
import { createRedisStore } from './redis/redis-store';
import { probesRouter } from './routes/probes';
import { publicApiRouter } from './routes/public-api';
import { startSandbox, type Sandbox } from './sandbox';
import { createIdentitySource } from './session/identity';
import { createSessions, type Sessions } from './session/sessions';
import { createUpstreamClient, type UpstreamClient } from './upstream/client';
import { createSigner } from './upstream/signer';

export interface MilesApp {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly store: KeyValueStore;
  readonly sessions: Sessions;
  readonly client: UpstreamClient;
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
}

/**
 * Builds the whole service from its settings: stores, upstream client,
 * sessions and both Express apps. Nothing listens yet (see server.ts), so
 * tests can run several instances in one process.
 */
export async function createApp(settings: Settings, options: CreateAppOptions = {}): Promise<MilesApp> {
  const logger = createLogger({ level: settings.logLevel, ...(options.logDestination ? { destination: options.logDestination } : {}) });
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
    sandbox = await startSandbox({ partners: [{ id: partnerId, secret: partnerSecret }], port: 0, host: '127.0.0.1' });
    baseUrl = sandbox.url;
    logger.warn(
      { sandboxUrl: baseUrl },
      'NO APM_BASE_URL: running the SANDBOX SIMULATOR in process with made-up credentials. Nothing reaches the real API. Set APM_BASE_URL, APM_PARTNER_ID and APM_PARTNER_SECRET to go live.',
    );
  }

  let store: KeyValueStore;
  if (settings.redis.url) {
    store = await createRedisStore({ url: settings.redis.url, commandTimeoutMs: settings.redis.commandTimeoutMs, logger });
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
  });
  const sessions = createSessions({ settings, store, metrics, secrets });
  const identity = createIdentitySource(settings.identity);

  const refuseWhileDraining: RequestHandler = (_req, _res, next) => {
    if (lifecycle.draining) next(new ServiceUnavailable('The service is shutting down; retry.', 1));
    else next();
  };
  const notFound: RequestHandler = (req, _res, next) => next(new NotFound(`No route ${req.method} ${req.path}.`));

  const publicApp = express();
  publicApp.disable('x-powered-by');
  publicApp.set('trust proxy', settings.trustProxy);
  publicApp.set('etag', false);
  publicApp.use(requestId(), accessLog('public', logger, metrics), helmet(), refuseWhileDraining);
  publicApp.use('/api', publicApiRouter({ settings, logger, sessions, identity, client }));
  publicApp.use(notFound);
  publicApp.use(errorHandler(logger));

  const internalApp = express();
  internalApp.disable('x-powered-by');
  internalApp.set('etag', false);
  internalApp.use(requestId(), accessLog('internal', logger, metrics), helmet());
  internalApp.use(probesRouter({ store, metrics, lifecycle }));
  internalApp.use(notFound);
  internalApp.use(errorHandler(logger));

  return {
    settings,
    logger,
    metrics,
    store,
    sessions,
    client,
    lifecycle,
    publicApp,
    internalApp,
    sandbox,
    async close() {
      client.close();
      await store.close();
      if (sandbox) await sandbox.close();
    },
  };
}
