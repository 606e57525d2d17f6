import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../server/paths.ts';
import { launchChromium } from './browser.ts';
import { dataset, GOLDEN } from './golden.ts';
import { CLINICIAN, LABELS, startWebapp, testImages, type Webapp } from './webapp_fixture.ts';

const SCREENSHOTS = join(PROJECT_ROOT, 'test', 'output', 'screenshots');
const [IMAGE] = testImages(1);

let app: Webapp;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  [app, browser] = await Promise.all([startWebapp([IMAGE!]), launchChromium()]);
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, serviceWorkers: 'allow' });
  page = await context.newPage();
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

const queueSize = (p: Page) =>
  p.evaluate(
    () =>
      new Promise<{ count: number; text: string }>((resolve, reject) => {
        const open = indexedDB.open('medclass');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const r = open.result.transaction('queue').objectStore('queue').getAll();
          r.onerror = () => reject(r.error);
          r.onsuccess = () => {
            const latin1 = new TextDecoder('latin1');
            resolve({ count: r.result.length, text: r.result.map((v: { data: ArrayBuffer }) => latin1.decode(v.data)).join('\n') });
            open.result.close();
          };
        };
      }),
  );

describe('the installable app offline', () => {
  it('installs a service worker that controls the page, with a manifest and PNG icons', async () => {
    await page.goto(`${app.url}/login`);
    const controlled = await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) {
        await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
      }
      return navigator.serviceWorker.controller?.scriptURL;
    });
    expect(controlled).toMatch(/\/sw\.js$/);
    const manifest = await page.evaluate(async () => {
      const href = document.querySelector<HTMLLinkElement>('link[rel="manifest"]')!.href;
      return (await fetch(href)).json();
    });
    expect(manifest).toMatchObject({ name: 'MedClass', display: 'standalone', start_url: '/' });
    const sizes = (manifest.icons as { sizes: string; type: string }[]).filter((i) => i.type === 'image/png').map((i) => i.sizes);
    expect(sizes).toEqual(expect.arrayContaining(['192x192', '512x512']));
    // the API is never answered from a cache
    const cached = await page.evaluate(async () => {
      const names = await caches.keys();
      const urls = (await Promise.all(names.map(async (n) => (await (await caches.open(n)).keys()).map((r) => new URL(r.url).pathname)))).flat();
      return urls;
    });
    expect(cached).toContain('/index.html');
    expect(cached.some((u) => u.startsWith('/api') || u.startsWith('/ws'))).toBe(false);

    await page.getByLabel('User name').fill(CLINICIAN.username);
    await page.getByLabel('Password').fill(CLINICIAN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('[data-testid="connection"][data-status="ready"]').waitFor({ timeout: 20_000 });
  });

  it('decodes a compressed DICOM offline with the precached WebAssembly codec, not the slower JavaScript build', async () => {
    const cached = await page.evaluate(async () => {
      const names = await caches.keys();
      return (await Promise.all(names.map(async (n) => (await (await caches.open(n)).keys()).map((r) => new URL(r.url).pathname)))).flat();
    });
    for (const codec of ['openjpegwasm_decode', 'charlswasm_decode', 'libjpegturbowasm_decode']) {
      expect(cached.some((u) => u.startsWith(`/assets/${codec}-`) && u.endsWith('.wasm')), codec).toBe(true);
    }
    await context.setOffline(true);
    try {
      // a fresh page: nothing of the codecs in memory, the network gone
      const offline = await context.newPage();
      await offline.goto(`${app.url}/preview`);
      await expect(offline.evaluate(() => fetch('/api/health').then(() => 'reached', () => 'offline'))).resolves.toBe('offline');
      await offline.getByTestId('file-input').setInputFiles(join(dataset('dicom'), 'JPEG2000.dcm'));
      await offline.waitForFunction(() => JSON.parse(document.querySelector('[data-testid="feature-json"]')?.textContent ?? '{}').file === 'JPEG2000.dcm', null, { timeout: 60_000 });
      await expect(offline.getByTestId('dicom-codec').getAttribute('data-build')).resolves.toBe('wasm');
      await offline.close();
    } finally {
      await context.setOffline(false);
    }
  }, 90_000);

  /**
   * Chromium's network emulation does not carry `navigator.onLine = false` into a reloaded
   * document (the page then believes it is online while every request fails); turning the
   * emulation off and on again tells the new document, as a real network change would.
   */
  async function reassertOffline(): Promise<void> {
    if (await page.evaluate(() => navigator.onLine)) {
      await context.setOffline(false);
      await context.setOffline(true);
    }
  }

  it('loads from the service worker when offline, and the preview computes features of a dropped image', async () => {
    await context.setOffline(true);
    await page.reload();
    await reassertOffline();
    await page.getByTestId('offline-pill').waitFor();
    await page.locator('[data-testid="connection"][data-status="offline"]').waitFor();
    // a path never visited: the service worker answers with the app
    await page.goto(`${app.url}/preview`);
    await page.getByTestId('file-input').setInputFiles(join(GOLDEN, 'images', 'camera.png'));
    const shown = await page.waitForFunction(
      () => {
        const text = document.querySelector('[data-testid="feature-json"]')?.textContent;
        return text && JSON.parse(text).file === 'camera.png' ? text : null;
      },
      null,
      { timeout: 60_000 },
    );
    const features = JSON.parse((await shown.jsonValue())!) as Record<string, unknown>;
    expect(features['hog']).toBeInstanceOf(Array);
    expect(typeof features['glcmContrast']).toBe('number');
  });

  it('queues a classification made offline, keeps it sealed across a reload, and sends it when back online', async () => {
    // the previous test navigated to a new document while offline
    await reassertOffline();
    await page.getByRole('navigation').getByRole('link', { name: 'Classify' }).click();
    await page.locator('[data-testid="connection"][data-status="offline"]').waitFor();
    await page.getByTestId('files-input').setInputFiles(IMAGE!);
    const card = page.locator(`[data-testid="result"][data-file="${basename(IMAGE!)}"]`);
    await card.and(page.locator('[data-state="queued"]')).waitFor();
    await expect(card.getByTestId('job-state').textContent()).resolves.toMatch(/when back online/);
    await page.reload();
    await reassertOffline();
    await card.and(page.locator('[data-state="queued"]')).waitFor();
    const queued = await queueSize(page);
    expect(queued.count).toBe(1);
    expect(queued.text).not.toContain(basename(IMAGE!));
    for (const size of [['phone', 390], ['desktop', 1280]] as const) {
      await page.setViewportSize({ width: size[1], height: 900 });
      await page.screenshot({ path: join(SCREENSHOTS, `clinician-offline-${size[0]}.png`), fullPage: true, animations: 'disabled' });
    }

    await context.setOffline(false);
    await card.and(page.locator('[data-state="done"]')).waitFor({ timeout: 30_000 });
    const label = await card.getByTestId('label').textContent();
    expect(LABELS).toContain(label);
    expect(label).toBe(app.expected.get(basename(IMAGE!)));
    await expect(page.getByTestId('toast').first().textContent()).resolves.toContain(label!);
    expect((await queueSize(page)).count).toBe(0);
  });
});
