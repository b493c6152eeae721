import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createForwarding } from '../../src/http/forward';
import type { Idempotency } from '../../src/http/idempotency';
import { internalAuth } from '../../src/http/internal-auth';
import { errorHandler } from '../../src/http/problem';
import { requestId } from '../../src/http/request-id';
import { listenerRouter } from '../../src/http/router';
import { createLogger } from '../../src/observability/logger';
import { internalRoutes } from '../../src/routes/internal-routes';
import type { Sessions } from '../../src/session/sessions';
import type { BackendToken } from '../../src/upstream/backend-token';
import { builtInCatalogue } from '../../src/upstream/catalogue';
import type { UpstreamCallInput, UpstreamClient } from '../../src/upstream/client';
import type { HttpAnswer } from '../../src/upstream/http-answer';

/**
 * The internal routes with their collaborators replaced: what it hands to the
 * idempotency store and the cache, and which sessions it ends. The whole
 * service over HTTP is in internal-api.test.ts.
 */
const KEY = 'router-key-0123456789abcdefghijk';

interface Harness {
  readonly url: string;
  readonly upstreamCalls: Array<Omit<UpstreamCallInput, 'sub'>>;
  readonly revoked: Array<[string, string]>;
  readonly idempotencyRuns: Array<{ scope: string; key: string; fingerprint: string }>;
  close(): Promise<void>;
}

async function harness(options: { errorCode?: number; purgeCache?: () => Promise<number>; withIdempotency?: boolean } = {}): Promise<Harness> {
  const upstreamCalls: Harness['upstreamCalls'] = [];
  const revoked: Harness['revoked'] = [];
  const idempotencyRuns: Harness['idempotencyRuns'] = [];
  const replay = new Map<string, HttpAnswer>();
  const backendToken: BackendToken = {
    get: async () => 'unused',
    invalidate: async () => undefined,
    call: async (input) => {
      upstreamCalls.push(input);
      const errorCode = options.errorCode ?? 0;
      const envelope = { errorCode, errorMsg: errorCode ? 'refused' : 'ok', data: {} };
      return { errorCode, envelope, text: JSON.stringify(envelope) };
    },
  };
  const sessions = {
    revokeUser: async (partnerClientId: string, reason: string) => {
      revoked.push([partnerClientId, reason]);
      return 1;
    },
  } as unknown as Sessions;
  const idempotency: Idempotency = {
    async run(scope, key, fingerprint, exec) {
      idempotencyRuns.push({ scope, key, fingerprint });
      const id = `${scope}\n${key}`;
      const seen = replay.get(id);
      if (seen) return seen;
      const answer = await exec();
      replay.set(id, answer);
      return answer;
    },
  };
  const logger = createLogger({ level: 'silent' });
  const forwarding = createForwarding({
    logger,
    sessions,
    client: {} as UpstreamClient,
    backendToken,
    ...(options.withIdempotency ? { idempotency } : {}),
    programLanguages: [],
  });
  const routes = internalRoutes({ logger, sessions, forwarding, catalogue: builtInCatalogue, ...(options.purgeCache ? { purgeCache: options.purgeCache } : {}) });
  const app = express();
  app.use(requestId());
  app.use(listenerRouter([{ prefix: '/internal', before: [internalAuth([{ id: 'router-test', key: KEY }])] }], routes));
  app.use(errorHandler(logger));
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    upstreamCalls,
    revoked,
    idempotencyRuns,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function post(h: Harness, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${h.url}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe('internal router', () => {
  it('purges the cache through the dependency and answers its count', async () => {
    let purges = 0;
    const h = await harness({
      purgeCache: async () => {
        purges += 1;
        return 3;
      },
    });
    try {
      const res = await post(h, '/internal/cache/purge', {});
      expect(res).toEqual({ status: 200, json: { purged: 3 } });
      expect(purges).toBe(1);
      expect(h.upstreamCalls).toHaveLength(0);
    } finally {
      await h.close();
    }
  });

  it('answers 501 to a purge when the service has no cache, rather than a made-up count', async () => {
    const h = await harness();
    try {
      const res = await post(h, '/internal/cache/purge', {});
      expect(res.status).toBe(501);
      expect(res.json.code).toBe('ERR_NOT_IMPLEMENTED');
    } finally {
      await h.close();
    }
  });

  it('runs Idempotency-Key mutations through the idempotency store, scoped by caller key', async () => {
    const h = await harness({ withIdempotency: true });
    try {
      const body = { partnerClientId: 'u1', action: 'welcome' };
      const first = await post(h, '/internal/buffer/store', body, { 'Idempotency-Key': 'batch-7' });
      const second = await post(h, '/internal/buffer/store', body, { 'Idempotency-Key': 'batch-7' });
      expect(first.status).toBe(200);
      expect(second).toEqual(first);
      expect(h.upstreamCalls).toHaveLength(1);
      expect(h.idempotencyRuns).toHaveLength(2);
      expect(h.idempotencyRuns[0]).toMatchObject({ scope: 'k:router-test', key: 'batch-7' });
      expect(h.idempotencyRuns[1]!.fingerprint).toBe(h.idempotencyRuns[0]!.fingerprint);

      await post(h, '/internal/buffer/store', { ...body, param1: 'other' }, { 'Idempotency-Key': 'batch-7' });
      expect(h.idempotencyRuns[2]!.fingerprint).not.toBe(h.idempotencyRuns[0]!.fingerprint);

      await post(h, '/internal/generosity/multistore', { action: 'welcome', partnerClientIds: ['a'] }, { 'Idempotency-Key': 'batch-8' });
      expect(h.idempotencyRuns[3]).toMatchObject({ scope: 'k:router-test', key: 'batch-8' });

      // Not an idempotent endpoint: the header is not used.
      await post(h, '/internal/user/info', { partnerClientId: 'u1' }, { 'Idempotency-Key': 'batch-9' });
      expect(h.idempotencyRuns).toHaveLength(4);
    } finally {
      await h.close();
    }
  });

  it('ends the sessions of every listed user after a successful multidelete', async () => {
    const h = await harness();
    try {
      const ids = Array.from({ length: 40 }, (_, i) => `del-${i}`);
      const res = await post(h, '/internal/user/multidelete', { partnerClientIds: [...ids, 'del-0'] });
      expect(res.status).toBe(200);
      expect(h.revoked.map(([id]) => id).sort()).toEqual([...ids].sort());
      expect(new Set(h.revoked.map(([, reason]) => reason))).toEqual(new Set(['user-deleted']));
    } finally {
      await h.close();
    }
  });

  it('ends no session when the upstream refuses the multidelete', async () => {
    const h = await harness({ errorCode: 2 });
    try {
      const res = await post(h, '/internal/user/multidelete', { partnerClientIds: ['x'] });
      expect(res.status).toBe(400);
      expect(res.json.errorCode).toBe(2);
      expect(h.revoked).toHaveLength(0);
    } finally {
      await h.close();
    }
  });

  it('revokes with the reason "revoked"', async () => {
    const h = await harness();
    try {
      expect(await post(h, '/internal/sessions/revoke', { partnerClientId: 'r-1' })).toEqual({ status: 200, json: { revoked: 1 } });
      expect(h.revoked).toEqual([['r-1', 'revoked']]);
    } finally {
      await h.close();
    }
  });
});
