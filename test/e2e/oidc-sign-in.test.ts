import type { Page } from 'playwright-core';
import { startTestService, type TestService } from '../helpers/service';
import { freePort, identityProviderReady, OIDC_TEST_USER, oidcEnv, startTestProvider, type TestProvider } from '../helpers/oidc-provider';
import { balanceShown, buildClient, collectPageErrors, launchChromium, openDemo, type Browser } from './browser';

const SETUP_TIMEOUT_MS = 120_000;

/**
 * IDENTITY_MODE=oidc in headless Chromium against a real OpenID Provider (oidc-provider in a
 * child process, on another site than the service): the demo page's Sign in button, the
 * provider's page, back connected, points read, Sign out ending the provider session too; and a
 * sign-out at the provider ending, through the back-channel logout, the session of another browser.
 */
describe('OpenID Connect sign-in in headless Chromium', () => {
  let provider: TestProvider;
  let svc: TestService;
  let origin: string;
  let browser: Browser | undefined;

  beforeAll(async () => {
    buildClient();
    const port = await freePort();
    // Browsers reach the service at localhost (a secure context); the provider is at 127.0.0.1,
    // another site, and calls the service back at 127.0.0.1 for the back-channel logout.
    origin = `http://localhost:${port}`;
    provider = await startTestProvider({ serviceOrigin: origin, backchannelOrigin: `http://127.0.0.1:${port}` });
    svc = await startTestService({ port, env: { DEMO_PAGE: 'true', COOKIE_SECURE: 'false', ...oidcEnv(provider.issuer, origin) } });
    await identityProviderReady(svc.internalUrl);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await svc?.close();
    await provider?.close();
  });
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  /** From the demo page: Sign in, the provider's form, back on the page connected with a balance. */
  async function signInThroughPage(page: Page): Promise<void> {
    await openDemo(page, origin);
    await page.locator('#signin-section:not([hidden])').waitFor();
    expect(await page.locator('#connect-section').isHidden()).toBe(true);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((url) => url.origin === provider.issuer);
    await page.getByLabel('Login').fill(OIDC_TEST_USER.id);
    await page.getByLabel('Password').fill(OIDC_TEST_USER.password);
    await page.locator('#provider-sign-in').click();
    await page.waitForURL((url) => url.origin === origin && url.pathname === '/');
    await page.locator('body[data-ready="true"]').waitFor();
    await page.locator('#account-section:not([hidden])').waitFor();
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById('balance')?.textContent ?? ''));
  }

  async function connected(page: Page): Promise<boolean> {
    return page.evaluate(async () => ((await (await fetch('/api/session')).json()) as { connected: boolean }).connected);
  }

  it(
    'signs in at the provider, reads the points, and signs out here and at the provider',
    async () => {
      browser = await launchChromium();
      const { page } = browser;
      const pageErrors = collectPageErrors(page);
      await signInThroughPage(page);
      expect(await page.locator('#user-id').textContent()).toBe(OIDC_TEST_USER.id);
      expect(await balanceShown(page)).toBeGreaterThanOrEqual(0);

      await page.getByRole('button', { name: 'Log out' }).click();
      // The provider asks, as RP-initiated logout lets it, then sends the browser back.
      await page.locator('#provider-logout').click();
      await page.waitForURL((url) => url.origin === origin);
      await page.locator('body[data-ready="true"]').waitFor();
      await page.locator('#signin-section:not([hidden])').waitFor();
      expect(await connected(page)).toBe(false);

      // The provider session ended too: signing in again asks for the password.
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL((url) => url.origin === provider.issuer);
      await page.getByLabel('Password').waitFor();
      expect(pageErrors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    },
    SETUP_TIMEOUT_MS,
  );

  it(
    'ends, through the back-channel logout, the session of the browser whose user signed out at the provider, and only that one',
    async () => {
      browser = await launchChromium();
      await signInThroughPage(browser.page);
      // A second browser, its own provider session.
      const second = await launchChromium();
      try {
        await signInThroughPage(second.page);
        expect(await connected(second.page)).toBe(true);

        // In another tab of the second browser, the user signs out at the provider itself.
        const providerTab = await second.context.newPage();
        await providerTab.goto(`${provider.issuer}/session/end`);
        await providerTab.locator('#provider-logout').click();
        await providerTab.locator('#provider-signed-out').waitFor();

        // The provider told the service, server to server: that browser's session here has ended.
        await second.page.reload();
        await second.page.locator('body[data-ready="true"]').waitFor();
        await second.page.locator('#signin-section:not([hidden])').waitFor();
        expect(await connected(second.page)).toBe(false);
        // The first browser signed in under another provider session: still connected.
        expect(await connected(browser.page)).toBe(true);
      } finally {
        await second.close();
      }
    },
    SETUP_TIMEOUT_MS,
  );
});
