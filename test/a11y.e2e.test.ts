import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'fast-png';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations as violations } from './axe.ts';
import { launchChromium } from './browser.ts';
import { dataset } from './golden.ts';
import { ADMIN, CLINICIAN, startWebapp, testImages, type Webapp } from './webapp_fixture.ts';


let app: Webapp;
let browser: Browser;

beforeAll(async () => {
  [app, browser] = await Promise.all([startWebapp(testImages(1)), launchChromium()]);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

async function logIn(page: Page, user: { username: string; password: string }, then: string): Promise<void> {
  await page.goto(`${app.url}/login`);
  await page.getByLabel('User name').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  const home = user.username === ADMIN.username ? '/admin' : '/classify';
  await page.waitForURL(`**${home}`);
  if (then !== home) await page.goto(`${app.url}${then}`);
}

describe('accessibility (axe-core) and keyboard use', () => {
  it.each([
    ['login', null, '/login'],
    ['classify', CLINICIAN, '/classify'],
    ['preview', CLINICIAN, '/preview'],
    ['admin', ADMIN, '/admin'],
  ] as const)('the %s page has no violations', async (_name, user, path) => {
    // The app's CSP rightly refuses injected scripts; axe is injected from outside it.
    const page = await (await browser.newContext({ bypassCSP: true })).newPage();
    if (user) await logIn(page, user, path);
    else await page.goto(`${app.url}${path}`);
    await page.waitForLoadState('networkidle');
    expect(await violations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('the admin page with mixed image sizes, a kept upload, a report and kept versions has no violations', async () => {
    // a small set: BreastMNIST's validation images and two 64 x 64 images per class
    const folder = mkdtempSync(join(tmpdir(), 'medclass-a11y-'));
    try {
      for (const [label, dir] of [['malignant', '0'], ['benign', '1']] as const) {
        mkdirSync(join(folder, 'set', label), { recursive: true });
        cpSync(join(dataset('breastmnist'), 'val', dir), join(folder, 'set', label), { recursive: true });
        for (const i of [1, 2]) writeFileSync(join(folder, 'set', label, `big${i}.png`), encode({ width: 64, height: 64, channels: 1, depth: 8, data: new Uint8Array(64 * 64).map((_, j) => (j * i) % 251) }));
      }
      const page = await (await browser.newContext({ bypassCSP: true })).newPage();
      await logIn(page, ADMIN, '/admin');
      await page.locator('[data-testid="admin-connection"][data-status="ready"]').waitFor({ timeout: 20_000 });
      await page.getByTestId('folder-input').setInputFiles(join(folder, 'set'));
      await page.getByTestId('mixed-sizes').waitFor({ timeout: 30_000 });
      expect(await violations(page)).toEqual([]);
      await page.getByTestId('resize-all').click();
      await page.getByTestId('upload').click();
      await page.getByTestId('kept-upload').waitFor({ timeout: 30_000 });
      await page.getByTestId('train').click();
      await page.getByTestId('report').waitFor({ timeout: 120_000 });
      await page.getByTestId('service-name').fill('a11y');
      await page.getByTestId('publish').click();
      await page.locator('[data-testid="services"] li[data-service="a11y"] [data-testid="versions"]').waitFor({ timeout: 20_000 });
      expect(await violations(page)).toEqual([]);
      await page.context().close();
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 180_000);

  it('the classify page has no violations with a DICOM file under review and a failed image', async () => {
    const page = await (await browser.newContext({ bypassCSP: true })).newPage();
    await logIn(page, CLINICIAN, '/classify');
    await page.locator('[data-testid="connection"][data-status="ready"]').waitFor({ timeout: 20_000 });
    await page.getByTestId('files-input').setInputFiles(join(dataset('dicom'), 'CT_small.dcm'));
    await page.getByTestId('files-input').setInputFiles({ name: 'empty.png', mimeType: 'image/png', buffer: Buffer.alloc(0) });
    await page.getByTestId('dicom-review').waitFor({ timeout: 30_000 });
    await page.getByTestId('failure-summary').waitFor({ timeout: 30_000 });
    expect(await violations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('logs in with the keyboard alone', async () => {
    const page = await browser.newPage();
    await page.goto(`${app.url}/login`);
    // Tab until the user name field has focus, then type and submit with Enter.
    for (let i = 0; i < 10 && !(await page.getByLabel('User name').evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab');
    await page.keyboard.type(CLINICIAN.username);
    await page.keyboard.press('Tab');
    await page.keyboard.type(CLINICIAN.password);
    await page.keyboard.press('Enter');
    await page.waitForURL('**/classify');
    await page.close();
  }, 60_000);
});
