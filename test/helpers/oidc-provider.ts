import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The one user of the test provider. */
export const OIDC_TEST_USER = { id: 'oidc-user-1', password: 'correct horse battery staple', email: 'ada@example.com', given_name: 'Ada', family_name: 'Lovelace' } as const;
export const OIDC_TEST_CLIENT = { id: 'miles-bff-test', secret: 'miles-bff-test-client-secret-0123456789' } as const;

export interface TestProvider {
  readonly issuer: string;
  /** Alters the next token answer's ID token (then signed again with the provider's key). */
  alterNextIdToken(change: { aud?: string; nonce?: string; expired?: boolean; algNone?: boolean }): Promise<void>;
  /** A logout token signed by the provider: the valid claims for `aud`, with `claims` over them (`null` drops one). */
  logoutToken(claims: Record<string, unknown>, options?: { algNone?: boolean }): Promise<string>;
  /** What the provider wrote on stderr (its errors). */
  readonly errors: readonly string[];
  close(): Promise<void>;
}

/** A free port on 127.0.0.1 (for a settings URL that must name the service's port before it listens). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A real OpenID Provider (`oidc-provider`) in a child process (it ships ES modules only), with
 * one client for the service (`serviceOrigin` for the callback and logout, `backchannelOrigin`
 * for its server-to-server logout) and one test user.
 */
export async function startTestProvider(options: { serviceOrigin: string; backchannelOrigin?: string; extraClients?: readonly Record<string, unknown>[] }): Promise<TestProvider> {
  const setup = {
    host: '127.0.0.1',
    user: OIDC_TEST_USER,
    clients: [
      {
        client_id: OIDC_TEST_CLIENT.id,
        client_secret: OIDC_TEST_CLIENT.secret,
        redirect_uris: [`${options.serviceOrigin}/api/auth/callback`],
        post_logout_redirect_uris: [`${options.serviceOrigin}/`],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        backchannel_logout_uri: `${options.backchannelOrigin ?? options.serviceOrigin}/api/auth/backchannel-logout`,
        backchannel_logout_session_required: true,
      },
      ...(options.extraClients ?? []),
    ],
  };
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, 'oidc-provider-process.mjs'), JSON.stringify(setup)], {
    cwd: join(__dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'test' },
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (c: Buffer) => stderr.push(c.toString('utf8')));
  const issuer = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve((JSON.parse(line) as { issuer: string }).issuer));
    child.once('exit', (code) => reject(new Error(`the test provider exited (${code}): ${stderr.join('')}`)));
  });
  const post = async (path: string, body: unknown): Promise<Response> => {
    const res = await fetch(`${issuer}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`test provider ${path}: ${res.status}`);
    return res;
  };
  return {
    issuer,
    errors: stderr,
    async alterNextIdToken(change) {
      await post('/test/id-token', change);
    },
    async logoutToken(claims, opts = {}) {
      const res = await post('/test/logout-token', { aud: OIDC_TEST_CLIENT.id, ...claims, ...(opts.algNone ? { algNone: true } : {}) });
      return ((await res.json()) as { token: string }).token;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** The settings of `IDENTITY_MODE=oidc` against a test provider, for a service reached at `serviceOrigin`. */
export function oidcEnv(issuer: string, serviceOrigin: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    IDENTITY_MODE: 'oidc',
    OIDC_ISSUER_URL: issuer,
    OIDC_CLIENT_ID: OIDC_TEST_CLIENT.id,
    OIDC_CLIENT_SECRET: OIDC_TEST_CLIENT.secret,
    OIDC_REDIRECT_URL: `${serviceOrigin}/api/auth/callback`,
    OIDC_POST_LOGOUT_REDIRECT_URL: `${serviceOrigin}/`,
    OIDC_ALLOW_INSECURE_HTTP: 'true',
    ...more,
  };
}

/** Cookies by name, as one user agent keeps them for one host (paths ignored: the tests' hosts are single-purpose). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now()) || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
  set(name: string, value: string): void {
    this.cookies.set(name, value);
  }
  header(): string {
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  }
}

/** One GET without following redirects, cookies from and into `jar`. */
export async function getWith(jar: CookieJar, url: string): Promise<Response> {
  const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.take(res);
  return res;
}

/**
 * A user's sign-in at the provider over plain HTTP, from the provider's authorization URL to the
 * redirect back to the service's callback (not followed): answers that callback URL.
 */
export async function signInAtProvider(authorizationUrl: string, providerJar: CookieJar = new CookieJar()): Promise<string> {
  let res = await getWith(providerJar, authorizationUrl);
  let location = new URL(res.headers.get('location')!, authorizationUrl).href;
  const interaction = /\/interaction\/([A-Za-z0-9_-]+)$/.exec(new URL(location).pathname);
  if (interaction) {
    res = await fetch(`${new URL(location).origin}/interaction/${interaction[1]}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: providerJar.header(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ login: OIDC_TEST_USER.id, password: OIDC_TEST_USER.password }).toString(),
    });
    providerJar.take(res);
    location = new URL(res.headers.get('location')!, location).href;
    // The provider resumes the authorization, then redirects to the client's redirect URI.
    while (location.startsWith(new URL(authorizationUrl).origin)) {
      res = await getWith(providerJar, location);
      const next = res.headers.get('location');
      if (!next) throw new Error(`the provider stopped at ${location} (${res.status}): ${await res.text()}`);
      location = new URL(next, location).href;
    }
  }
  return location;
}

/** Waits until the service's readiness says its OpenID Provider is discovered (discovery runs in the background). */
export async function identityProviderReady(internalUrl: string): Promise<void> {
  for (;;) {
    const ready = (await (await fetch(`${internalUrl}/readyz`)).json()) as { checks: Record<string, string> };
    if (ready.checks.identityProvider === 'ok') return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
