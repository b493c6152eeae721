import type { AddressInfo } from 'node:net';
import { get, type Server } from 'node:http';
import express from 'express';
import { loadSettings } from '../../../src/config/load';
import { createLogger } from '../../../src/observability/logger';
import { createMetrics, type Metrics } from '../../../src/observability/metrics';
import { createRedisStore, type RedisKeyValueStore } from '../../../src/redis/redis-store';
import { createSessions, type SessionExtra, type Sessions } from '../../../src/session/sessions';
import { dropPrefix, testRedisUrl, uniquePrefix } from '../../helpers/redis';

let prefix: string;
let kv: RedisKeyValueStore;
let server: Server;
let origin: string;
let sessions: Sessions;
let metrics: Metrics;

beforeAll(async () => {
  prefix = uniquePrefix('sessions');
  kv = await createRedisStore({ url: testRedisUrl(), commandTimeoutMs: 1000, logger: createLogger({ level: 'silent' }) });
  const settings = loadSettings({ NODE_ENV: 'test', REDIS_KEY_PREFIX: prefix, COOKIE_SECURE: 'true', SESSION_SECRET: 'a-secret-of-enough-length-for-tests', SESSION_MAX_PER_USER: '5' });
  metrics = createMetrics();
  sessions = createSessions({ settings, store: kv, metrics, secrets: ['a-secret-of-enough-length-for-tests'] });
  const app = express();
  app.post('/connect', sessions.load, (req, res, next) => {
    const transport = req.query.transport === 'token' ? 'token' : 'cookie';
    const extra: SessionExtra | undefined = typeof req.query.sid === 'string' ? { sid: req.query.sid } : undefined;
    sessions.connect(req, res, { partnerClientId: String(req.query.user) }, `token-of-${String(req.query.user)}`, transport, extra).then((r) => res.json(r), next);
  });
  app.get('/me', sessions.load, (req, res) => {
    res.json({ record: sessions.sessionDataOf(req) ?? null, userToken: sessions.userTokenOf(req) ?? null, dropped: sessions.cookieWouldBeDropped(req) });
  });
  app.post('/logout', sessions.load, (req, res, next) => {
    sessions.endCurrent(req, res, 'logout').then(() => res.status(204).end(), next);
  });
  app.post('/revoke', (req, res, next) => {
    sessions.revokeSessions(String(req.query.ids).split(','), 'provider-logout').then((n) => res.json({ n }), next);
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  origin = `http://localhost:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await kv.close();
  await dropPrefix(prefix);
});

async function connect(user: string, query = ''): Promise<{ id: string; cookie?: string; setCookie: string | null; token?: string }> {
  const r = await fetch(`${origin}/connect?user=${encodeURIComponent(user)}${query}`, { method: 'POST' });
  expect(r.status).toBe(200);
  const body = (await r.json()) as { id: string; session?: { token: string } };
  const setCookie = r.headers.get('set-cookie');
  return { id: body.id, setCookie, ...(setCookie ? { cookie: setCookie.split(';')[0] } : {}), ...(body.session ? { token: body.session.token } : {}) };
}

/** What `/me` answers: the loaded session as `sessionDataOf` gives it. */
interface Seen {
  readonly record: { id: string; user: { partnerClientId: string }; transport: string; extra?: SessionExtra } | null;
  readonly userToken: string | null;
  readonly dropped: boolean;
}

async function me(headers: Record<string, string>): Promise<Seen> {
  const r = await fetch(`${origin}/me`, { headers });
  return (await r.json()) as Seen;
}

describe('sessions: the one loader', () => {
  it('loads a cookie session with its id, extra and userToken; the cookie is __Host-, HttpOnly, Secure, SameSite', async () => {
    const c = await connect('u1', '&sid=provider-sid-1');
    expect(c.setCookie).toMatch(/^__Host-miles\.sid=s%3A/);
    expect(c.setCookie).toMatch(/; Path=\//);
    expect(c.setCookie).toMatch(/; HttpOnly/);
    expect(c.setCookie).toMatch(/; Secure/);
    expect(c.setCookie).toMatch(/; SameSite=Lax/);
    expect(c.setCookie).not.toMatch(/Max-Age|Expires/);
    const seen = await me({ cookie: c.cookie! });
    expect(seen.record).toMatchObject({ id: c.id, user: { partnerClientId: 'u1' }, transport: 'cookie', extra: { sid: 'provider-sid-1' } });
    expect(seen.userToken).toBe('token-of-u1');
  });

  it('loads a token session from the bearer token, sets no cookie, and never reads a cookie beside it', async () => {
    const t = await connect('u2', '&transport=token');
    expect(t.setCookie).toBeNull();
    expect(t.token).toMatch(/^mbs\./);
    const c = await connect('u3');
    const seen = await me({ authorization: `Bearer ${t.token!}`, cookie: c.cookie! });
    expect(seen.record).toMatchObject({ id: t.id, user: { partnerClientId: 'u2' }, transport: 'token' });
    expect(seen.record?.extra).toBeUndefined();
    expect((await me({ authorization: `Bearer ${t.token!}x`, cookie: c.cookie! })).record).toBeNull();
  });

  it('gives a new id at every connect, ending the session the request had', async () => {
    const first = await connect('u4');
    const r = await fetch(`${origin}/connect?user=u4`, { method: 'POST', headers: { cookie: first.cookie! } });
    const second = (await r.json()) as { id: string };
    expect(second.id).not.toBe(first.id);
    expect((await me({ cookie: first.cookie! })).record).toBeNull();
    expect((await me({ cookie: r.headers.get('set-cookie')!.split(';')[0]! })).record?.id).toBe(second.id);
  });

  it('ends the current session and clears the cookie; a bearer request gets no cookie cleared', async () => {
    const c = await connect('u5');
    const out = await fetch(`${origin}/logout`, { method: 'POST', headers: { cookie: c.cookie! } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^__Host-miles\.sid=;.*Expires=Thu, 01 Jan 1970/);
    expect((await me({ cookie: c.cookie! })).record).toBeNull();
    const t = await connect('u5', '&transport=token');
    const outToken = await fetch(`${origin}/logout`, { method: 'POST', headers: { authorization: `Bearer ${t.token!}` } });
    expect(outToken.headers.get('set-cookie')).toBeNull();
    expect((await me({ authorization: `Bearer ${t.token!}` })).record).toBeNull();
  });

  it('revokes sessions by id on every replica, counted under their reason', async () => {
    const a = await connect('u6');
    const b = await connect('u7', '&transport=token');
    const kept = await connect('u6');
    const before = (await metrics.sessions.get()).values.find((v) => v.labels.event === 'ended-provider-logout')?.value ?? 0;
    const r = await fetch(`${origin}/revoke?ids=${a.id},${b.id},never-was`, { method: 'POST' });
    expect(await r.json()).toEqual({ n: 2 });
    expect((await me({ cookie: a.cookie! })).record).toBeNull();
    expect((await me({ authorization: `Bearer ${b.token!}` })).record).toBeNull();
    expect((await me({ cookie: kept.cookie! })).record?.id).toBe(kept.id);
    const after = (await metrics.sessions.get()).values.find((v) => v.labels.event === 'ended-provider-logout')?.value ?? 0;
    expect(after - before).toBe(2);
  });

  it('knows a Secure cookie is kept on http://localhost outside production', async () => {
    expect((await me({})).dropped).toBe(false);
    // Plain HTTP under another name: no browser would keep the Secure cookie.
    const port = (server.address() as AddressInfo).port;
    const text = await new Promise<string>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/me', headers: { host: 'bff.example.com' } }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    expect((JSON.parse(text) as { dropped: boolean }).dropped).toBe(true);
  });
});
