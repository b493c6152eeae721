import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page, Response } from 'playwright-core';
import type { TestService } from '../helpers/service';
import {
  BROWSER_TIMEOUT_MS,
  buildClient,
  connectThroughPage,
  launchChromium,
  openDemo,
  startDemoService,
  startForeignSite,
  type Browser,
  type ForeignSite,
} from './browser';

const SETUP_TIMEOUT_MS = 120_000;

interface Attempts {
  corsRead: string;
  opaqueRead: string;
  corsWrite: string;
  blindWrite: string;
}

/**
 * A no-cors answer is either refused outright (Helmet's
 * `Cross-Origin-Resource-Policy: same-origin`, what Chromium does here) or
 * opaque; in both cases the page reads nothing.
 */
const UNREADABLE = ['rejected', 'opaque 0 '];

/** What a script on the foreign page can do against the service, with the victim's cookie in the browser. */
async function attackFrom(page: Page, target: string): Promise<Attempts> {
  return page.evaluate(async (api) => {
    const out = {} as Attempts;
    try {
      const r = await fetch(`${api}/api/partner/initialcheckstore`, { credentials: 'include' });
      out.corsRead = `resolved ${r.status}: ${await r.text()}`;
    } catch {
      out.corsRead = 'rejected';
    }
    try {
      const opaque = await fetch(`${api}/api/partner/initialcheckstore`, { credentials: 'include', mode: 'no-cors' });
      out.opaqueRead = `${opaque.type} ${opaque.status} ${await opaque.text()}`;
    } catch {
      out.opaqueRead = 'rejected';
    }
    try {
      const r = await fetch(`${api}/api/generosity/store`, {
        method: 'POST',
        credentials: 'include',
        headers: { 'Content-Type': 'application/json', 'X-CSRF': '1' },
        body: JSON.stringify({ action: 'review' }),
      });
      out.corsWrite = `resolved ${r.status}`;
    } catch {
      out.corsWrite = 'rejected';
    }
    // A "simple" request needs no preflight: it reaches the service, the answer stays opaque.
    try {
      const blind = await fetch(`${api}/api/generosity/store`, {
        method: 'POST',
        credentials: 'include',
        mode: 'no-cors',
        headers: { 'Content-Type': 'text/plain' },
        body: JSON.stringify({ action: 'review' }),
      });
      out.blindWrite = `${blind.type} ${blind.status} ${await blind.text()}`;
    } catch {
      out.blindWrite = 'rejected';
    }
    return out;
  }, target);
}

/** The classic CSRF: an auto-submitted form, a top-level POST navigation that carries cookies the site policy allows. */
async function formPost(page: Page, target: string): Promise<Response> {
  const answered = page.waitForResponse((r) => r.url() === `${target}/api/generosity/store` && r.request().resourceType() === 'document');
  await page.evaluate((api) => {
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = `${api}/api/generosity/store`;
    form.enctype = 'text/plain';
    const field = document.createElement('input');
    field.name = '{"action":"review","x":"';
    field.value = '"}';
    form.append(field);
    document.body.append(form);
    form.submit();
  }, target);
  return answered;
}

/** The service's access-log lines for one route. */
function accessLines(svc: TestService, route: string): { method: string; status: number }[] {
  return svc.logs
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.includes(`"route":"${route}"`))
    .map((line) => JSON.parse(line) as { method: string; status: number });
}

/** Waits (polling, not timing) until `count` lines of `route` are logged. */
async function waitForAccessLines(svc: TestService, route: string, count: number): Promise<{ method: string; status: number }[]> {
  for (let i = 0; i < 200; i += 1) {
    const lines = accessLines(svc, route);
    if (lines.length >= count) return lines;
    await new Promise((r) => setTimeout(r, 50));
  }
  return accessLines(svc, route);
}

describe('a page on a foreign origin, in headless Chromium', () => {
  let svc: TestService;
  let origin: string;
  let cookieName: string;
  let site: ForeignSite;
  let browser: Browser | undefined;

  beforeAll(async () => {
    buildClient();
    site = await startForeignSite({ '/miles-client.js': readFileSync(join(__dirname, '..', '..', 'dist', 'client', 'index.js'), 'utf8') });
    ({ svc, origin, cookieName } = await startDemoService({ COOKIE_SECURE: 'false' }));
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await svc?.close();
    await site?.close();
  });
  beforeEach(async () => {
    browser = await launchChromium();
  }, SETUP_TIMEOUT_MS);
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  it(
    'can neither read /api answers nor store an action with the connected user’s cookie',
    async () => {
      const { page, context } = browser!;
      const user = `e2e-foreign-${Date.now()}`;
      await openDemo(page, origin);
      await connectThroughPage(page, user);
      const points = svc.sandbox.userPoints(user);
      const storesBefore = svc.sandbox.calls.filter((c) => c.path === 'generosity/store').length;
      expect(accessLines(svc, '/api/generosity/store')).toEqual([]);

      for (const foreign of [site.crossSiteOrigin, site.sameSiteOrigin]) {
        const attacker = await context.newPage();
        const answers: Response[] = [];
        attacker.on('response', (r) => {
          if (r.url().startsWith(`${origin}/api/`)) answers.push(r);
        });
        await attacker.goto(`${foreign}/`);

        const attempts = await attackFrom(attacker, origin);
        expect(attempts.corsRead).toBe('rejected');
        expect(UNREADABLE).toContain(attempts.opaqueRead);
        expect(attempts.corsWrite).toBe('rejected');
        expect(UNREADABLE).toContain(attempts.blindWrite);

        const form = await formPost(attacker, origin);
        expect(form.status()).toBe(403);
        expect(form.headers()['content-type']).toMatch(/^application\/problem\+json/);
        const sentHeaders = await form.request().allHeaders();
        expect(sentHeaders.origin).toBe(foreign);
        if (foreign === site.sameSiteOrigin) {
          // Same site: SameSite=Lax lets the cookie through; the service's Origin rule is what refuses.
          expect(sentHeaders.cookie ?? '').toContain(`${cookieName}=`);
        }

        // Whatever reached the service was refused there, not only hidden by the browser.
        const stores = answers.filter((r) => new URL(r.url()).pathname === '/api/generosity/store');
        expect(stores.length).toBeGreaterThan(0);
        expect(stores.map((r) => r.status())).toEqual(stores.map(() => 403));
        await attacker.close();
      }

      // Each origin's no-cors POST and form POST reached the service (the CORS POST stopped at its
      // preflight): every one of them was answered 403.
      const logged = await waitForAccessLines(svc, '/api/generosity/store', 4);
      expect(logged.filter((l) => l.method === 'POST').length).toBeGreaterThanOrEqual(4);
      expect(logged.map((l) => l.status)).toEqual(logged.map(() => 403));

      expect(svc.sandbox.userPoints(user)).toBe(points);
      expect(svc.sandbox.calls.filter((c) => c.path === 'generosity/store')).toHaveLength(storesBefore);
      // The victim's own page still works, its session untouched.
      await page.bringToFront();
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.getByRole('status').filter({ hasText: 'Up to date.' }).waitFor();
      expect(Number(await page.locator('#balance').textContent())).toBe(points);
    },
    BROWSER_TIMEOUT_MS * 3,
  );

  it(
    'can use the client across origins once the service lists it in ALLOWED_ORIGINS',
    async () => {
      const allowing = await startDemoService({ COOKIE_SECURE: 'false', ALLOWED_ORIGINS: site.sameSiteOrigin });
      try {
        const { page } = browser!;
        const user = `e2e-allowed-${Date.now()}`;
        await page.goto(`${site.sameSiteOrigin}/`);
        // The built client, loaded as a module by the foreign page itself.
        await page.addScriptTag({ type: 'module', content: `import * as miles from '${site.sameSiteOrigin}/miles-client.js'; window.milesClient = miles;` });
        await page.waitForFunction(() => 'milesClient' in window);
        const result = await page.evaluate(
          async ({ api, partnerClientId }) => {
            type Client = typeof import('../../packages/client/src');
            const { createMilesClient, MilesNotConnectedError } = (window as unknown as { milesClient: Client }).milesClient;
            const miles = createMilesClient({ baseUrl: api });
            const connect = await miles.connect({ partnerClientId });
            const start = await miles.initialCheckStore();
            const earn = await miles.store('review', { idempotencyKey: true });
            await miles.logout();
            let afterLogout = 'no error';
            try {
              await miles.initialCheckStore();
            } catch (err) {
              afterLogout = err instanceof MilesNotConnectedError ? 'not connected' : String(err);
            }
            return { connected: connect.data.user.partnerClientId, start: start.data.user.points, after: 'points' in earn.data ? earn.data.points : undefined, afterLogout, cookies: document.cookie };
          },
          { api: allowing.origin, partnerClientId: user },
        );
        expect(result.connected).toBe(user);
        expect(result.after).toBe(result.start + 20);
        expect(allowing.svc.sandbox.userPoints(user)).toBe(result.after);
        expect(result.afterLogout).toBe('not connected');
        expect(result.cookies).not.toContain(allowing.cookieName);
      } finally {
        await allowing.svc.close();
      }
    },
    BROWSER_TIMEOUT_MS * 2,
  );
});
