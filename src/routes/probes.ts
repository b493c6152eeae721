import express, { type Router } from 'express';
import type { Lifecycle } from '../lifecycle';
import type { Metrics } from '../observability/metrics';
import type { KeyValueStore } from '../redis/key-value-store';
import type { IdentityProviderStatus } from '../session/oidc-client';

export interface ProbeDeps {
  readonly store: KeyValueStore;
  readonly metrics: Metrics;
  readonly lifecycle: Lifecycle;
  /** `IDENTITY_MODE=oidc`: where the OpenID Provider's discovery stands (ready only once it succeeded). */
  readonly identityProvider?: () => IdentityProviderStatus;
}

/**
 * `/healthz` (alive), `/readyz` (Redis answers, not draining, the identity provider discovered),
 * `/metrics`; internal listener only. A provider lost after its discovery keeps the replica ready:
 * sessions go on, and what was discovered stays in use.
 */
export function probesRouter(deps: ProbeDeps): Router {
  const router = express.Router({ caseSensitive: true, strict: true });
  router.get('/healthz', (_req, res) => {
    res.locals.route = '/healthz';
    res.status(200).json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    res.locals.route = '/readyz';
    const checks: Record<string, string> = { settings: 'ok' };
    let ready = true;
    if (deps.lifecycle.draining) {
      checks.lifecycle = 'draining';
      ready = false;
    }
    try {
      await deps.store.ping();
      checks.store = 'ok';
    } catch {
      checks.store = 'unavailable';
      ready = false;
    }
    if (deps.identityProvider) {
      const status = deps.identityProvider();
      checks.identityProvider = status;
      if (status !== 'ok') ready = false;
    }
    if (!ready) res.setHeader('Retry-After', '2');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  router.get('/metrics', async (_req, res) => {
    res.locals.route = '/metrics';
    res.setHeader('Content-Type', deps.metrics.registry.contentType);
    res.end(await deps.metrics.registry.metrics());
  });
  return router;
}
