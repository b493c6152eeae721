import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildClient } from '../e2e/browser';
import { startTestService, type TestService } from '../helpers/service';

const PUBLIC = join(__dirname, '..', '..', 'public');

describe('the demo page and the built client, served by the public listener', () => {
  describe('with DEMO_PAGE on', () => {
    let svc: TestService;
    beforeAll(async () => {
      buildClient();
      svc = await startTestService({ env: { DEMO_PAGE: 'true' } });
    }, 120_000);
    afterAll(async () => {
      await svc.close();
    });

    it('serves the page, its module script and the client, under Helmet’s CSP', async () => {
      const page = await fetch(`${svc.url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("script-src-attr 'none'");
      expect(page.headers.get('x-request-id')).toMatch(/\S/);
      expect(await page.text()).toContain('<script type="module" src="demo.js"></script>');

      for (const [path, type] of [
        ['/demo.js', /^text\/javascript/],
        ['/demo.css', /^text\/css/],
        ['/client/index.js', /^text\/javascript/],
      ] as const) {
        const res = await fetch(`${svc.url}${path}`);
        expect(`${path} ${res.status}`).toBe(`${path} 200`);
        expect(res.headers.get('content-type')).toMatch(type);
      }
      expect(await (await fetch(`${svc.url}/client/index.js`)).text()).toContain('export function createMilesClient');
    });

    it('leaves /api and unknown paths as they were: 404 problem documents', async () => {
      for (const path of ['/nope.html', '/api/nope', '/client/nope.js', '/.gitkeep', '/internal/cache/purge', '/metrics']) {
        const res = await fetch(`${svc.url}${path}`);
        expect(`${path} ${res.status}`).toBe(`${path} 404`);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      }
    });
  });

  describe('with DEMO_PAGE off', () => {
    let svc: TestService;
    beforeAll(async () => {
      svc = await startTestService({ env: { DEMO_PAGE: 'false' } });
    });
    afterAll(async () => {
      await svc.close();
    });

    it('serves neither the page nor the client', async () => {
      for (const path of ['/', '/index.html', '/demo.js', '/client/index.js']) {
        const res = await fetch(`${svc.url}${path}`);
        expect(`${path} ${res.status}`).toBe(`${path} 404`);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      }
    });
  });

  it('ships no inline script or inline event handler (the CSP would block them)', () => {
    const html = readFileSync(join(PUBLIC, 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc="[^"]+"/);
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/javascript:/i);
    expect(readFileSync(join(PUBLIC, 'demo.js'), 'utf8')).not.toMatch(/\.innerHTML\s*=|insertAdjacentHTML|document\.write/);
  });
});
