/**
 * The status page in a real Chromium (playwright-core driving the system's
 * browser; no browser is ever downloaded) against a real HTTP server on
 * 127.0.0.1 serving createStatusRoutes over a seeded SQLite store.
 *
 * Chromium: `chromium` / `chromium-browser` on PATH or /usr/bin/chromium,
 * installed by `node scripts/engines/chromium.mjs`. With CI=true a missing
 * browser fails this file; elsewhere it is skipped with that hint.
 *
 * Screenshots at phone (390x844) and desktop width go to
 * test-output/status/ (git-ignored).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getRequestListener } from '@hono/node-server';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { createStatusRoutes } from '../../lib/status/routes.ts';
import { ADDRESSES, PLAIN, seededDeps } from '../status/seed.ts';
import { hostileStrings, PAYLOADS } from '../status/xss.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUTPUT = join(ROOT, 'test-output', 'status');
const TOKEN = 'e2e-status-token-3fQk9wLm2Xa7';
const INSTALL_HINT = 'run `node scripts/engines/chromium.mjs` as root (or `sudo apt-get install -y --no-install-recommends chromium`)';

/** The system's Chromium, or undefined. */
function findChromium(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/bin', '/usr/local/bin', '/snap/bin'];
  for (const name of ['chromium', 'chromium-browser']) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

const executablePath = findChromium();
const inCi = process.env.CI === 'true';
if (executablePath === undefined && !inCi) console.warn(`[status-page] skipping the browser test: no chromium found; ${INSTALL_HINT}`);

describe.runIf(executablePath === undefined && inCi)('status page in a real browser (CI)', () => {
  it('has chromium installed (CI=true requires the browser test to run)', () => {
    // Prepare / Act / Assess: in CI a missing browser is a failure, not a skip.
    expect.fail(`no chromium binary found (chromium, chromium-browser, /usr/bin/chromium): ${INSTALL_HINT}`);
  });
});

interface Served {
  url: string;
  store: SqliteStateStore;
  server: Server;
}

async function serve(options: Parameters<typeof seededDeps>[0]): Promise<Served> {
  const deps = await seededDeps(options);
  const server = createServer(getRequestListener(createStatusRoutes(deps).fetch));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, store: deps.store, server };
}

async function close(served: Served | undefined) {
  if (!served) return;
  served.server.closeAllConnections();
  await new Promise<void>((done) => served.server.close(() => done()));
  await served.store.close();
}

describe.runIf(executablePath !== undefined)('status page in a real browser', () => {
  let browser: Browser;
  let plain: Served;
  let hostile: Served;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    plain = await serve({ token: TOKEN });
    hostile = await serve({ token: TOKEN, strings: hostileStrings() });
    browser = await chromium.launch({ executablePath: executablePath!, args: ['--no-sandbox'], timeout: 30_000 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await close(plain);
    await close(hostile);
  });

  /** Logs in the ?token= way: the server sets the cookie and redirects to /status. */
  async function openWithToken(page: Page, base: string) {
    const response = await page.goto(`${base}/status?token=${encodeURIComponent(TOKEN)}`, { waitUntil: 'load', timeout: 15_000 });
    expect(response?.status()).toBe(200);
    expect(page.url()).toBe(`${base}/status`);
  }

  it('shows every seeded item at desktop width after the ?token= login', async () => {
    // Prepare
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();

    // Act
    await openWithToken(page, plain.url);
    const text = (await page.locator('body').innerText()).replace(/\s+/g, ' ');
    await page.screenshot({ path: join(OUTPUT, 'status-desktop.png'), fullPage: true });

    // Assess
    for (const expected of [PLAIN.incidentA, PLAIN.incidentB, PLAIN.titleA, PLAIN.nodeNameB, PLAIN.familyA, PLAIN.severityB, ...ADDRESSES]) {
      expect(text, expected).toContain(expected);
    }
    expect(await page.locator('#blocks h3').allInnerTexts()).toEqual([
      expect.stringContaining(`${PLAIN.fw} (routeros)`),
      expect.stringContaining(`${PLAIN.cf} (cloudflare)`),
    ]);
    const scrubRow = page.locator('#switches tr', { hasText: PLAIN.scrub });
    expect(await scrubRow.innerText()).toMatch(/hold-down[\s\S]*restores in 14m 0s/);
    const failureRow = page.locator('#failures tbody tr');
    expect(await failureRow.count()).toBe(1);
    expect(await failureRow.innerText()).toMatch(new RegExp(`${ADDRESSES[2].replaceAll('.', '\\.')}[\\s\\S]*${PLAIN.lastError}[\\s\\S]*in 2m 0s`));
    expect(text).toContain(PLAIN.switchError);
    expect(page.url()).not.toContain(TOKEN);
    await context.close();
  }, 30_000);

  it('fits a phone screen: stacked cards, no sideways scrolling', async () => {
    // Prepare
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await context.newPage();

    // Act
    await openWithToken(page, plain.url);
    // (Expressions as strings: the project's type-check has no DOM library.)
    const scrollWidth = await page.evaluate<number>('document.documentElement.scrollWidth');
    const headerDisplay = await page.evaluate<string>(`getComputedStyle(document.querySelector('#blocks thead')).display`);
    const label = await page.evaluate<string>(`getComputedStyle(document.querySelector('#blocks td[data-label="Address"]'), '::before').content`);
    await page.screenshot({ path: join(OUTPUT, 'status-phone.png'), fullPage: true });

    // Assess
    expect(scrollWidth).toBeLessThanOrEqual(390);
    expect(headerDisplay).toBe('none');
    expect(label).toBe('"Address"');
    expect(await page.locator('#incidents').innerText()).toContain(PLAIN.incidentA);
    await context.close();
  }, 30_000);

  it('runs none of the markup put in webhook and device strings', async () => {
    // Prepare
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });

    // Act
    await openWithToken(page, hostile.url);
    // An <img onerror> would fire once its (failed) load is done: give it the time to.
    await page.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => undefined);
    await page.waitForTimeout(300);
    const injected = await page.evaluate<{ scripts: number; images: number; handlers: number }>(`({
      scripts: document.querySelectorAll('script').length,
      images: document.querySelectorAll('img').length,
      handlers: [...document.querySelectorAll('*')].filter((element) => [...element.attributes].some((attribute) => attribute.name.startsWith('on'))).length,
    })`);
    const text = await page.locator('body').innerText();

    // Assess
    expect(dialogs).toEqual([]);
    expect(injected).toEqual({ scripts: 0, images: 0, handlers: 0 });
    // The payloads are shown as text.
    for (const payload of PAYLOADS) expect(text).toContain(payload);
    await context.close();
  }, 30_000);

  it('answers 401 without the token', async () => {
    // Prepare: a fresh context has no cookie.
    const context = await browser.newContext();
    const page = await context.newPage();

    // Act
    const response = await page.goto(`${plain.url}/status`, { timeout: 15_000 });
    const body = await page.locator('body').innerText();

    // Assess
    expect(response?.status()).toBe(401);
    expect(response?.headers()['www-authenticate']).toBe('Bearer realm="relay status"');
    expect(body).not.toContain(PLAIN.incidentA);
    await context.close();
  }, 30_000);
});
