import type { Request, Response } from 'express';
import type { Route } from '../http/router';
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
export function probeRoutes(deps: ProbeDeps): Route[] {
  const healthz = (_req: Request, res: Response): void => {
    res.status(200).json({ status: 'ok' });
  };
  const readyz = async (_req: Request, res: Response): Promise<void> => {
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
  };
  const metrics = async (_req: Request, res: Response): Promise<void> => {
    res.setHeader('Content-Type', deps.metrics.registry.contentType);
    res.end(await deps.metrics.registry.metrics());
  };
  return [
    { path: '/healthz', methods: { GET: [healthz] } },
    { path: '/readyz', methods: { GET: [readyz] } },
    { path: '/metrics', methods: { GET: [metrics] } },
  ];
}
