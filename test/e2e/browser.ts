import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startTestService, type TestService } from '../helpers/service';
import { chromium as chromiumTool, requireTool } from '../helpers/tools';

/**
 * Real headless Chromium for the end-to-end tests: a fresh profile folder per
 * launch, the demo page served by a real service, and helpers for a foreign
 * origin. The machine is small and shared: generous timeouts, never a
 * duration asserted.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const BROWSER_TIMEOUT_MS = 60_000;
const ROOT = join(__dirname, '..', '..');

export interface Browser {
  readonly context: BrowserContext;
  /** The first tab, open at launch. */
  readonly page: Page;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Credentials the browser answers an HTTP authentication challenge with, as a user would type them. */
  readonly httpCredentials?: { readonly username: string; readonly password: string; readonly origin?: string };
}

export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  requireTool(chromiumTool(CHROMIUM_PATH));
  const profileDir = mkdtempSync(join(tmpdir(), 'miles-bff-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
      timeout: BROWSER_TIMEOUT_MS,
      viewport: { width: 1280, height: 900 },
      ...(options.httpCredentials ? { httpCredentials: { ...options.httpCredentials } } : {}),
    });
  } catch (err) {
    rmSync(profileDir, { recursive: true, force: true });
    throw err;
  }
  context.setDefaultTimeout(BROWSER_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(BROWSER_TIMEOUT_MS);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profileDir, { recursive: true, force: true });
    },
  };
}

/**
 * The demo page loads the built client from dist/client: build it from the
 * current sources. Each run compiles into a folder of its own and renames the
 * files into place, so parallel runs never serve a half-written file.
 */
export function buildClient(): void {
  const out = mkdtempSync(join(tmpdir(), 'miles-bff-client-'));
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.client.json'), '--outDir', out], {
      cwd: ROOT,
      stdio: 'pipe',
    });
    const target = join(ROOT, 'dist', 'client');
    mkdirSync(target, { recursive: true });
    for (const name of readdirSync(out)) {
      const staged = join(target, `.${name}.${process.pid}.tmp`);
      copyFileSync(join(out, name), staged);
      renameSync(staged, join(target, name));
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Chromium treats http://localhost as a secure context; the harness listens on 127.0.0.1. */
export function onLocalhost(url: string): string {
  const u = new URL(url);
  u.hostname = 'localhost';
  return u.origin;
}

/** A service with the demo page on, as a browser on this machine reaches it. */
export async function startDemoService(env: Record<string, string> = {}): Promise<{ svc: TestService; origin: string; cookieName: string }> {
  const svc = await startTestService({ env: { DEMO_PAGE: 'true', ...env } });
  return { svc, origin: onLocalhost(svc.url), cookieName: svc.settings.session.cookieName };
}

export interface ForeignSite {
  /** The same server seen from two origins: http://127.0.0.1:<port> (another site) and http://localhost:<port> (same site, other origin). */
  readonly crossSiteOrigin: string;
  readonly sameSiteOrigin: string;
  close(): Promise<void>;
}

/**
 * A tiny HTTP server standing for someone else's site. It serves `routes`
 * (path to HTML or JavaScript text), and an empty page at any other path.
 */
export async function startForeignSite(routes: Readonly<Record<string, string>> = {}): Promise<ForeignSite> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const text = routes[path] ?? '<!doctype html><title>elsewhere</title><p>Someone else\'s page.</p>';
    const type = path.endsWith('.js') ? 'text/javascript' : 'text/html';
    res.writeHead(200, { 'Content-Type': `${type}; charset=utf-8`, 'Cache-Control': 'no-store' });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    crossSiteOrigin: `http://127.0.0.1:${port}`,
    sameSiteOrigin: `http://localhost:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Console errors and uncaught exceptions of a page (a CSP violation is one). */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return errors;
}

/** Opens the demo page and waits until its first load (program, session) is over. */
export async function openDemo(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.locator('body[data-ready="true"]').waitFor();
}

/** Connects through the page's form and waits for the balance to show. */
export async function connectThroughPage(page: Page, partnerClientId: string): Promise<void> {
  await page.getByLabel('Partner client id').fill(partnerClientId);
  await page.getByRole('button', { name: 'Connect', exact: true }).click();
  await page.locator('#account-section:not([hidden])').waitFor();
  await page.waitForFunction(() => /^\d+$/.test(document.getElementById('balance')?.textContent ?? ''));
}

export async function balanceShown(page: Page): Promise<number> {
  return Number(await page.locator('#balance').textContent());
}

/** Waits until the page's balance reads `points`. */
export async function waitForBalance(page: Page, points: number): Promise<void> {
  await page.waitForFunction((expected) => document.getElementById('balance')?.textContent === String(expected), points);
}
