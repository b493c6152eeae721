import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxyMiddleware } from 'http-proxy-middleware';
import type { BrowserContext, Response } from 'playwright-core';
import type { TestService } from '../helpers/service';
import { BROWSER_TIMEOUT_MS, buildClient, connectThroughPage, launchChromium, openDemo, startDemoService, startForeignSite, type Browser, type ForeignSite } from './browser';

const SETUP_TIMEOUT_MS = 120_000;
const USER = 'staging';
const PASSWORD = 'staging-password';

/**
 * The service behind a gate that asks for HTTP Basic authentication, as a staging site often is:
 * once the user has typed the password, the browser adds `Authorization: Basic …` to every request
 * to the site by itself, cross-site form posts included. The gate passes the header on.
 */
async function startBasicAuthGate(target: string): Promise<{ origin: string; close(): Promise<void> }> {
  const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const proxy = createProxyMiddleware({ target, changeOrigin: false });
  const server: Server = createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="staging"', 'Content-Type': 'text/plain' });
      res.end('authentication required');
      return;
    }
    void proxy(req as never, res as never, () => {
      res.writeHead(502);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://localhost:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface FormAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  /** The request headers as the browser sent them. */
  readonly sent: Readonly<Record<string, string>>;
}

/**
 * A form posted to `url` from a fresh page of `from` (a top-level navigation: the browser adds its
 * cookies and its HTTP credentials), read once the navigation is over.
 */
async function submitForm(context: BrowserContext, from: string, url: string, fields: Readonly<Record<string, string>>): Promise<FormAnswer> {
  const page = await context.newPage();
  try {
    await page.goto(`${from}/`);
    const answered = page.waitForResponse((r) => r.url() === url && r.request().resourceType() === 'document');
    await page.evaluate(
      ({ action, inputs }) => {
        const form = document.createElement('form');
        form.method = 'POST';
        form.action = action;
        form.enctype = 'text/plain';
        for (const [name, value] of Object.entries(inputs)) {
          const field = document.createElement('input');
          field.name = name;
          field.value = value;
          form.append(field);
        }
        document.body.append(form);
        form.submit();
      },
      { action: url, inputs: fields },
    );
    const answer: Response = await answered;
    await page.waitForURL(url);
    return { status: answer.status(), contentType: answer.headers()['content-type'], sent: await answer.request().allHeaders() };
  } finally {
    await page.close();
  }
}

describe('a browser holding HTTP Basic credentials for the site, in headless Chromium', () => {
  let svc: TestService;
  let gate: { origin: string; close(): Promise<void> };
  let site: ForeignSite;
  let browser: Browser | undefined;

  beforeAll(async () => {
    buildClient();
    site = await startForeignSite();
    ({ svc } = await startDemoService({ COOKIE_SECURE: 'false' }));
    gate = await startBasicAuthGate(svc.url);
    browser = await launchChromium({ httpCredentials: { username: USER, password: PASSWORD } });
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await browser?.close();
    await gate?.close();
    await svc?.close();
    await site?.close();
  });

  it(
    'sends them with a same-site page’s forms, and the service still refuses the forms (no X-CSRF, foreign Origin)',
    async () => {
      const { page, context } = browser!;
      const user = `e2e-basic-${Date.now()}`;
      await openDemo(page, gate.origin);
      await connectThroughPage(page, user);
      const points = svc.sandbox.userPoints(user);
      expect(points).toBeDefined();

      // localhost on another port: the same site, so SameSite=Lax sends the cookie with a POST.
      const store = await submitForm(context, site.sameSiteOrigin, `${gate.origin}/api/generosity/store`, { '{"action":"review","x":"': '"}' });
      const remove = await submitForm(context, site.sameSiteOrigin, `${gate.origin}/api/user/delete`, {});

      for (const answer of [store, remove]) {
        // The browser did add both ambient credentials: the refusal is the service's.
        expect(answer.sent.authorization).toMatch(/^Basic /);
        expect(answer.sent.cookie ?? '').toContain(`${svc.settings.session.cookieName}=`);
        expect(answer.status).toBe(403);
        expect(answer.contentType).toMatch(/^application\/problem\+json/);
      }
      expect(svc.sandbox.calls.some((c) => c.path === 'user/delete')).toBe(false);
      expect(svc.sandbox.userPoints(user)).toBe(points);

      // The user's own page still works, with the same session.
      await page.bringToFront();
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.getByRole('status').filter({ hasText: 'Up to date.' }).waitFor();
      expect(Number(await page.locator('#balance').textContent())).toBe(points);
    },
    BROWSER_TIMEOUT_MS * 3,
  );
});
