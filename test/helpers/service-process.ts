import { join } from 'node:path';
import type { Sandbox } from '../../src/sandbox';
import { ROOT } from './build';
import { testRedisUrl } from './redis';
import { TEST_PARTNER, TEST_SESSION_SECRET } from './service';

/** The built service, run as the image runs it. */
export const SERVER = join(ROOT, 'dist', 'server.js');

/**
 * The environment of a `node dist/server.js` started by a test: the sandbox as
 * upstream and the test Redis under the test's own key prefix; `env` adds to
 * it or overrides it (LOG_LEVEL is `warn` unless it says otherwise).
 */
export function serviceProcessEnv(
  sandbox: Sandbox,
  prefix: string,
  ports: { readonly port: number; readonly internalPort: number },
  env: Readonly<Record<string, string>> = {},
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(ports.port),
    INTERNAL_PORT: String(ports.internalPort),
    HOST: '127.0.0.1',
    APM_BASE_URL: sandbox.url,
    APM_PARTNER_ID: TEST_PARTNER.id,
    APM_PARTNER_SECRET: TEST_PARTNER.secret,
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: prefix,
    SESSION_SECRET: TEST_SESSION_SECRET,
    COOKIE_SECURE: 'false',
    LOG_LEVEL: 'warn',
    ...env,
  };
}
