/**
 * What a new clinician met in the walk of issue 9, in Chromium against a real server: DICOM
 * through the picker (real and synthetic files, with and without an extension, a 1-bit mask)
 * shown with its header facts and windowed image before anything is sent; the original mode
 * offered, with what leaves the device said plainly; failures that notify and show on a phone;
 * and an admin landing on the Admin page.
 */
import { copyFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../server/paths.ts';
import { launchChromium } from './browser.ts';
import { buildDicom, imageElements, oneBitDicom } from './dicom_helpers.ts';
import { dataset } from './golden.ts';
import { ADMIN, CLINICIAN, LABELS, SERVICE, startWebapp, testImages, type Webapp } from './webapp_fixture.ts';

const SCREENSHOTS = join(PROJECT_ROOT, 'test', 'output', 'screenshots');
const [PNG] = testImages(1);

let app: Webapp;
let browser: Browser;
let page: Page;
let files: string;

/** A 28 x 28 CT-like image (16-bit signed, rescaled, windowed), the service's own size. */
function ct28(): Uint8Array {
  const pixelData = new Uint8Array(28 * 28 * 2);
  const view = new DataView(pixelData.buffer);
  for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) view.setInt16(2 * (r * 28 + c), (r - 14) ** 2 + (c - 14) ** 2 < 80 ? 1100 : 900 + 7 * c, true);
  const text = (tag: number, vr: string, value: string) => ({ tag, vr, value });
  const elements = imageElements({
    rows: 28,
    columns: 28,
    bitsAllocated: 16,
    signed: true,
    pixelData,
    extra: [text(0x00281050, 'DS', '40'), text(0x00281051, 'DS', '400'), text(0x00281052, 'DS', '-1024'), text(0x00281053, 'DS', '1')],
  });
  return buildDicom(elements.map((e) => (e.tag === 0x00080060 ? { ...e, value: 'CT' } : e)));
}

beforeAll(async () => {
  [app, browser] = await Promise.all([startWebapp([PNG!]), launchChromium()]);
  files = join(app.work, 'files');
  mkdirSync(files);
  writeFileSync(join(files, 'ct28.dcm'), ct28());
  // a 1-bit mask of two frames, without an extension (as PACS exports often are)
  const disc = (f: number) => Array.from({ length: 28 * 28 }, (_, i) => (((i % 28) - 14) ** 2 + (Math.floor(i / 28) - 14 + f) ** 2 < 60 ? 1 : 0));
  writeFileSync(join(files, 'MASK0001'), oneBitDicom(28, 28, [disc(0), disc(3)]));
  copyFileSync(join(dataset('dicom'), 'emri_small.dcm'), join(files, 'IM000042'));
  writeFileSync(join(files, 'empty.png'), new Uint8Array(0));
  writeFileSync(join(files, 'broken.png'), Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5]));
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

async function logIn(p: Page, user: { username: string; password: string }, lands: string): Promise<void> {
  await p.goto(`${app.url}/login`);
  await p.getByLabel('User name').fill(user.username);
  await p.getByLabel('Password').fill(user.password);
  await p.getByRole('button', { name: 'Log in' }).click();
  await p.waitForURL(`**${lands}`);
}

const card = (p: Page, file: string) => p.locator(`[data-testid="result"][data-file="${file}"]`).first();
const done = (p: Page, file: string) => card(p, file).and(p.locator('[data-state="done"]')).waitFor({ timeout: 60_000 });

describe('the clinician walk (issue 9)', () => {
  it('lands an admin on the Admin page and a clinician on Classify', async () => {
    const admin = await browser.newPage();
    await logIn(admin, ADMIN, '/admin');
    await admin.close();
    await logIn(page, CLINICIAN, '/classify');
    await page.locator('[data-testid="connection"][data-status="ready"]').waitFor({ timeout: 20_000 });
    await page.getByTestId('service-select').selectOption(SERVICE);
  });

  it('offers every mode the service accepts, saying what leaves the device in each', async () => {
    for (const m of ['reduced', 'features', 'original']) await page.getByTestId(`mode-${m}`).waitFor();
    await expect(page.getByTestId('mode-text-reduced').textContent()).resolves.toMatch(/^Only the grey pixels/);
    await expect(page.getByTestId('mode-text-features').textContent()).resolves.toMatch(/^Only the numbers: its HOG and 6 more feature values/);
    await expect(page.getByTestId('mode-text-original').textContent()).resolves.toBe(
      'The whole file, as it is, encrypted. DICOM files are never sent whole (their header names the patient): their reduced image goes instead.',
    );
    await expect(page.locator('.drop').textContent()).resolves.toContain('PNG, JPEG or DICOM');
  });

  it('sends the original file when asked, with the label medclass predict gives it', async () => {
    await page.getByTestId('mode-original').check();
    await page.getByTestId('files-input').setInputFiles(PNG!);
    await done(page, basename(PNG!));
    await expect(card(page, basename(PNG!)).getByTestId('label').textContent()).resolves.toBe(app.expected.get(basename(PNG!)));
    await expect(card(page, basename(PNG!)).getByTestId('sent').textContent()).resolves.toBe(`sent: the original file (${statSync(PNG!).size} bytes)`);
  });

  it('shows a DICOM file read on the device (facts and windowed image) before sending, and never sends it whole', async () => {
    // still in original mode: a DICOM file goes reduced all the same
    await page.getByTestId('files-input').setInputFiles(join(files, 'ct28.dcm'));
    const review = page.getByTestId('dicom-review');
    await review.waitFor({ timeout: 30_000 });
    const item = review.locator('[data-testid="dicom-item"][data-file="ct28.dcm"]');
    const facts = (await item.getByTestId('dicom-info').textContent())!;
    for (const fact of ['CT', '28 x 28', 'the only one', '16 stored of 16, signed', 'MONOCHROME2', 'centre 40, width 400', 'slope 1, intercept -1024', 'Explicit VR Little Endian']) {
      expect(facts).toContain(fact);
    }
    const image = item.getByTestId('dicom-image');
    await expect(image.getAttribute('data-width')).resolves.toBe('28');
    expect(await image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(28);
    await expect(item.getByTestId('dicom-leaves').textContent()).resolves.toBe(
      'Leaves this device: only its grey pixels, encrypted (never the whole file: its header names the patient).',
    );
    // nothing is sent before the clinician says so
    await expect(page.locator('[data-testid="result"][data-file="ct28.dcm"]').count()).resolves.toBe(0);
    await page.setViewportSize({ width: 390, height: 900 });
    await page.screenshot({ path: join(SCREENSHOTS, 'clinician-dicom-review-phone.png'), fullPage: true, animations: 'disabled' });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.screenshot({ path: join(SCREENSHOTS, 'clinician-dicom-review-desktop.png'), fullPage: true, animations: 'disabled' });
    await page.getByTestId('dicom-send').click();
    await done(page, 'ct28.dcm');
    await expect(card(page, 'ct28.dcm').getByTestId('sent').textContent()).resolves.toBe('sent: 28 × 28 grey pixels');
    expect(LABELS).toContain(await card(page, 'ct28.dcm').getByTestId('label').textContent());
  });

  it('takes extension-less DICOM files (a 1-bit mask, a multi-frame MR), and a cancel sends nothing', async () => {
    await page.getByTestId('mode-reduced').check();
    await page.getByTestId('files-input').setInputFiles([join(files, 'MASK0001'), join(files, 'IM000042')]);
    const review = page.getByTestId('dicom-review');
    await expect.poll(() => review.locator('[data-testid="dicom-item"]').count(), { timeout: 30_000 }).toBe(2);
    const mask = (await review.locator('[data-file="MASK0001"]').getByTestId('dicom-info').textContent())!;
    expect(mask).toContain('1 stored of 1, unsigned');
    expect(mask).toContain('the first of 2');
    const mr = (await review.locator('[data-file="IM000042"]').getByTestId('dicom-info').textContent())!;
    expect(mr).toContain('MR');
    expect(mr).toContain('64 x 64');
    expect(mr).toContain('the first of 10');
    // the mask decodes to black and white only: read the shown image's pixels back
    const levels = await review.locator('[data-file="MASK0001"]').getByTestId('dicom-image').evaluate((img: HTMLImageElement) => {
      const c = document.createElement('canvas');
      [c.width, c.height] = [img.naturalWidth, img.naturalHeight];
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      return [...new Set(Array.from(ctx.getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0)))].sort((a, b) => a - b);
    });
    expect(levels).toEqual([0, 255]);
    await page.getByTestId('dicom-cancel').click();
    await review.waitFor({ state: 'detached' });
    await expect(page.locator('[data-testid="result"][data-file="IM000042"]').count()).resolves.toBe(0);

    await page.getByTestId('files-input').setInputFiles(join(files, 'MASK0001'));
    await page.getByTestId('dicom-send').click();
    await done(page, 'MASK0001');
    await expect(card(page, 'MASK0001').getByTestId('sent').textContent()).resolves.toBe('sent: 28 × 28 grey pixels');
  });

  it('on a phone, says at the top and in a notification when images fail, calls an empty file empty, and sends nothing for them', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.evaluate(() => scrollTo({ top: 0 }));
    await page.getByTestId('files-input').setInputFiles([join(files, 'empty.png'), join(files, 'broken.png')]);
    const summary = page.getByTestId('failure-summary');
    await expect.poll(() => summary.textContent(), { timeout: 30_000 }).toMatch(/2 images were not classified/);
    // visible without scrolling
    const box = (await summary.boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(800);
    const toast = page.getByTestId('toast').filter({ hasText: /not classified/i });
    await expect(toast.textContent()).resolves.toMatch(/2 images not classified|Not classified/);
    expect(await toast.isVisible()).toBe(true);
    const empty = card(page, 'empty.png');
    await expect(empty.textContent()).resolves.toContain('the file is empty (0 bytes)');
    await expect(empty.getByTestId('sent').textContent()).resolves.toBe('nothing sent');
    await expect(card(page, 'broken.png').getByTestId('sent').textContent()).resolves.toBe('nothing sent');
    await page.screenshot({ path: join(SCREENSHOTS, 'clinician-failure-phone.png'), animations: 'disabled' });
    // "Show" brings the failed card into view and gives it focus
    await page.getByTestId('show-failure').click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('result');
    const shown = (await page.evaluate(() => {
      const r = document.activeElement!.getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, state: document.activeElement!.getAttribute('data-state') };
    }));
    expect(shown.state).toBe('failed');
    expect(shown.top).toBeGreaterThanOrEqual(0);
    expect(shown.top).toBeLessThan(800);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('shows a system notification for a failure while the tab is hidden, without the file name', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, serviceWorkers: 'allow' });
    await context.grantPermissions(['notifications'], { origin: app.url });
    const p = await context.newPage();
    await logIn(p, CLINICIAN, '/classify');
    await p.locator('[data-testid="connection"][data-status="ready"]').waitFor({ timeout: 20_000 });
    await p.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    // headless Chromium never hides a tab (not even behind another): the page is told it is hidden
    await p.evaluate(() => Object.defineProperty(document, 'visibilityState', { get: () => 'hidden', configurable: true }));
    await p.getByTestId('files-input').setInputFiles(join(files, 'empty.png'));
    const shown = () =>
      p.evaluate(async () => {
        const registration = await navigator.serviceWorker.getRegistration();
        const list = (await registration?.getNotifications({ tag: 'medclass-failures' })) ?? [];
        return list.map((n) => `${n.title}: ${n.body}`);
      });
    try {
      await expect.poll(shown, { timeout: 30_000 }).toEqual(['MedClass: An image could not be classified.']);
    } catch (e) {
      // it failed once in a loaded full run and never alone: say what the page saw, for the next time
      const seen = await p.evaluate(async () => {
        const registration = await navigator.serviceWorker.getRegistration();
        return {
          permission: Notification.permission,
          visibility: document.visibilityState,
          worker: registration?.active?.state ?? 'no active worker',
          toasts: [...document.querySelectorAll('[role=status], [role=alert]')].map((t) => t.textContent?.trim()),
        };
      });
      throw new Error(`${e instanceof Error ? e.message : String(e)}\nthe page: ${JSON.stringify(seen)}`, { cause: e });
    }
    await context.close();
  }, 120_000);
});
