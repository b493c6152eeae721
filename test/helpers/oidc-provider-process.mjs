// A real OpenID Provider (oidc-provider, ES modules only) in a child process, for the tests of
// IDENTITY_MODE=oidc. Reads its set-up as JSON from argv[2]:
//   { host, clients: [client metadata…], user: { id, password, email, given_name, family_name } }
// and prints one JSON line `{ "issuer": … }` once it listens.
//
// Besides the provider it serves, for tests only:
//   /interaction/:uid             a sign-in page (login + password of the one test user)
//   POST /test/id-token           JSON: how the next token answer's ID token is altered
//                                 ({ aud, expired, algNone, nonce }), signed again with the provider's key
//   POST /test/logout-token       JSON claims over a valid logout token's → `{ token }`, signed with the
//                                 provider's key (or `alg: none` with `algNone: true`)
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import { URLSearchParams } from 'node:url';
import { randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair, SignJWT, decodeJwt, decodeProtectedHeader, importJWK } from 'jose';

const setup = JSON.parse(process.argv[2] ?? '{}');
const host = setup.host ?? '127.0.0.1';
const user = setup.user;

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
const signingKey = await importJWK(signingJwk, 'RS256');

/** How the next ID token is altered (one token answer), set by POST /test/id-token. */
let alteration;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function html(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`<!doctype html><html><head><meta charset="utf-8"><title>Test provider</title></head><body>${body}</body></html>`);
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function resign(payload, algNone) {
  if (algNone) {
    const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(payload)}.`;
  }
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: signingJwk.kid }).sign(signingKey);
}

const server = createServer();
await new Promise((resolve) => server.listen(0, host, resolve));
const { port } = server.address();
const issuer = `http://${host === '127.0.0.1' ? '127.0.0.1' : host}:${port}`;

const provider = new Provider(issuer, {
  clients: setup.clients,
  jwks: { keys: [signingJwk] },
  cookies: { keys: ['test-provider-cookie-key-0123456789'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name'] },
  // The profile claims in the ID token itself, as many providers put them.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = `<!doctype html><html><head><title>Sign out</title></head><body>${form}<p>Sign out of the test provider?</p>
<button id="provider-logout" type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button></body></html>`;
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = '<!doctype html><html><head><title>Signed out</title></head><body><p id="provider-signed-out">Signed out of the test provider.</p></body></html>';
      },
    },
  },
  pkce: { required: () => true },
  // The service under test listens on loopback, which the provider's outgoing requests (the
  // back-channel logout) refuse by default as a special-use address: this test provider calls
  // loopback only, so it sends them without that guard.
  fetch: (url, { dispatcher: _loopbackRefused, ...options }) => globalThis.fetch(url, options),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, id) {
    if (id !== user.id) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: user.email, email_verified: true, given_name: user.given_name, family_name: user.family_name };
      },
    };
  },
  // The test clients are first-party: no consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><html><head><title>Provider error</title></head><body><p id="provider-error">${escape(out.error)}: ${escape(out.error_description ?? '')}</p></body></html>`;
  },
});
provider.proxy = false;
// What the provider could not do, on stderr (the tests show it when they fail).
provider.on('backchannel.error', (_ctx, err, client) => process.stderr.write(`backchannel.error ${client.clientId}: ${err.message}\n`));
provider.on('server_error', (_ctx, err) => process.stderr.write(`server_error: ${err.stack}\n`));

// The token answer's ID token, altered once as a test asked.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || !alteration || !ctx.body || typeof ctx.body.id_token !== 'string') return;
  const change = alteration;
  alteration = undefined;
  const payload = decodeJwt(ctx.body.id_token);
  if (change.aud !== undefined) payload.aud = change.aud;
  if (change.nonce !== undefined) payload.nonce = change.nonce;
  if (change.expired) {
    payload.iat = Math.floor(Date.now() / 1000) - 7200;
    payload.exp = Math.floor(Date.now() / 1000) - 3600;
  }
  ctx.body = { ...ctx.body, id_token: await resign(payload, change.algNone === true) };
});

const providerCallback = provider.callback();

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return html(res, 400, '<p>Unknown interaction.</p>');
  if (req.method === 'GET') {
    return html(
      res,
      200,
      `<h1>Sign in to the test provider</h1>
<form method="post" action="/interaction/${escape(uid)}/login">
<label for="login">Login</label><input id="login" name="login" autocomplete="off">
<label for="password">Password</label><input id="password" name="password" type="password">
<button type="submit" id="provider-sign-in">Sign in</button></form>`,
    );
  }
  if (action !== 'login') return html(res, 404, '<p>Not found.</p>');
  const form = new URLSearchParams(await readBody(req));
  if (form.get('login') !== user.id || form.get('password') !== user.password) {
    return html(res, 401, '<p id="provider-error">Wrong login or password.</p>');
  }
  await provider.interactionFinished(req, res, { login: { accountId: user.id } }, { mergeWithLastSubmission: false });
}

server.on('request', (req, res) => {
  const url = new URL(req.url ?? '/', issuer);
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login))?$/.exec(url.pathname);
  const handle = async () => {
    if (match) return interaction(req, res, match[1], match[2]);
    if (req.method === 'POST' && url.pathname === '/test/id-token') {
      alteration = JSON.parse(await readBody(req));
      res.writeHead(204).end();
      return undefined;
    }
    if (req.method === 'POST' && url.pathname === '/test/logout-token') {
      const { algNone, ...claims } = JSON.parse(await readBody(req));
      const now = Math.floor(Date.now() / 1000);
      const payload = {
        iss: issuer,
        iat: now,
        exp: now + 120,
        jti: randomUUID(),
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
        ...claims,
      };
      for (const [name, value] of Object.entries(payload)) if (value === null) delete payload[name];
      const token = await resign(payload, algNone === true);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, header: decodeProtectedHeader(token) }));
      return undefined;
    }
    return providerCallback(req, res);
  };
  handle().catch((err) => {
    if (!res.headersSent) html(res, 500, `<p id="provider-error">${escape(err.message)}</p>`);
  });
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
