import { Writable } from 'node:stream';
import { createApp, type MilesApp } from '../../src/app';
import { loadSettings } from '../../src/config/load';
import type { Settings } from '../../src/config/settings';
import { listenService, type RunningService } from '../../src/listen';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { dropPrefix, testRedisUrl, uniquePrefix } from './redis';
import { startRedisServer, type PrivateRedis, type PrivateRedisOptions } from './redis-server';

export const TEST_PARTNER = { id: 'test-partner', secret: 'test-partner-secret-0123456789abcdef' } as const;
export const TEST_SESSION_SECRET = 'test-session-secret-0123456789abcdef0123';

export interface TestService {
  readonly app: MilesApp;
  readonly running: RunningService;
  readonly url: string;
  readonly internalUrl: string;
  readonly sandbox: Sandbox;
  readonly settings: Settings;
  readonly prefix: string;
  /** Every log line the service wrote, as text. */
  readonly logs: string[];
  close(): Promise<void>;
}

export interface TestServiceOptions {
  /** More settings, over the test defaults. */
  readonly env?: Record<string, string>;
  /** Share one sandbox between instances; a new one is started otherwise. */
  readonly sandbox?: Sandbox;
  /** Share one key prefix between instances (replicas of one deployment). */
  readonly prefix?: string;
  /**
   * Use the shared test Redis (default: REDIS_URL from the global set-up); false: not it, so the
   * in-process stores unless `env` points at another Redis (REDIS_MODE, REDIS_CLUSTER_NODES…).
   */
  readonly redis?: boolean;
  /** The public listener's port (a URL in the settings must name it); a free one by default. */
  readonly port?: number;
}

export async function startTestSandbox(options: Partial<Parameters<typeof startSandbox>[0]> = {}): Promise<Sandbox> {
  return startSandbox({ partners: [{ ...TEST_PARTNER }], port: 0, host: '127.0.0.1', ...options });
}

/**
 * A whole service over real HTTP: the sandbox simulator as its upstream, a
 * real Redis under a key prefix of its own, both listeners on free ports.
 */
export async function startTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const ownSandbox = !options.sandbox;
  const sandbox = options.sandbox ?? (await startTestSandbox());
  const prefix = options.prefix ?? uniquePrefix('svc');
  const useRedis = options.redis ?? true;
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    APM_BASE_URL: sandbox.url,
    APM_PARTNER_ID: TEST_PARTNER.id,
    APM_PARTNER_SECRET: TEST_PARTNER.secret,
    SESSION_SECRET: TEST_SESSION_SECRET,
    COOKIE_SECURE: 'false',
    REDIS_KEY_PREFIX: prefix,
    ...(useRedis ? { REDIS_URL: testRedisUrl() } : {}),
    // Tests close their services with connections idle: no grace for a request on its way.
    SHUTDOWN_IDLE_GRACE_MS: '0',
    ...options.env,
  };
  const settings = loadSettings(env);
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const app = await createApp(settings, { logDestination: destination });
  const running = await listenService(app, { port: options.port ?? 0, internalPort: 0, host: '127.0.0.1' });
  return {
    app,
    running,
    url: running.publicUrl,
    internalUrl: running.internalUrl,
    sandbox,
    settings,
    prefix,
    logs,
    async close() {
      await running.stop(2000);
      if (ownSandbox) await sandbox.close();
      if (useRedis && !options.prefix) await dropPrefix(prefix);
    },
  };
}

/** Two replicas of one deployment: one sandbox upstream, one Redis key prefix. */
export interface ReplicaPair {
  readonly sandbox: Sandbox;
  readonly a: TestService;
  readonly b: TestService;
  readonly prefix: string;
  close(): Promise<void>;
}

export async function startReplicaPair(options: { env?: Record<string, string>; label?: string } = {}): Promise<ReplicaPair> {
  const sandbox = await startTestSandbox();
  const prefix = uniquePrefix(options.label ?? 'pair');
  const a = await startTestService({ sandbox, prefix, ...(options.env ? { env: options.env } : {}) });
  const b = await startTestService({ sandbox, prefix, ...(options.env ? { env: options.env } : {}) });
  return {
    sandbox,
    a,
    b,
    prefix,
    async close() {
      await a.close();
      await b.close();
      await sandbox.close();
      await dropPrefix(prefix);
    },
  };
}

/** A service and the Redis of its own that it runs on, for a suite that kills, pauses or stops that Redis. */
export interface ServiceOnOwnRedis {
  readonly redis: PrivateRedis;
  readonly svc: TestService;
}

/**
 * Starts a Redis of the suite's own and a service on it before the suite's tests, and stops both
 * after them (faults injected into the shared Redis would stall every other test). Read the
 * handles inside the tests: they are set once `beforeAll` has run.
 */
export function serviceOnOwnRedis(env: Readonly<Record<string, string>> = {}, redisOptions: PrivateRedisOptions = {}): ServiceOnOwnRedis {
  let redis: PrivateRedis | undefined;
  let svc: TestService | undefined;
  beforeAll(async () => {
    redis = await startRedisServer(redisOptions);
    svc = await startTestService({ env: { REDIS_URL: redis.url, ...env } });
  });
  afterAll(async () => {
    await svc?.close();
    await redis?.close();
  });
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`serviceOnOwnRedis: the ${what} is read before beforeAll started it`);
    return value;
  };
  return {
    get redis() {
      return started(redis, 'Redis');
    },
    get svc() {
      return started(svc, 'service');
    },
  };
}
