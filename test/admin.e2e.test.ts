/**
 * The admin page end to end: an admin picks a BreastMNIST folder (train and test splits, classes
 * named), sees the counts and the duplicate check, uploads it, trains an SVM, reads the report
 * and publishes it as a new service, which then shows in the hosted services.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync, type Zippable } from 'fflate';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../server/paths.ts';
import { launchChromium } from './browser.ts';
import { dataset } from './golden.ts';
import { ADMIN, SERVICE, startWebapp, testImages, type Webapp } from './webapp_fixture.ts';

const SCREENSHOTS = join(PROJECT_ROOT, 'test', 'output', 'screenshots');

let app: Webapp;
let browser: Browser;
let page: Page;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'medclass-admin-'));
  const root = join(folder, 'breast');
  for (const split of ['train', 'test']) {
    mkdirSync(join(root, split), { recursive: true });
    cpSync(join(dataset('breastmnist'), split, '0'), join(root, split, 'malignant'), { recursive: true });
    cpSync(join(dataset('breastmnist'), split, '1'), join(root, split, 'benign'), { recursive: true });
  }
  [app, browser] = await Promise.all([startWebapp(testImages(1)), launchChromium()]);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

async function shoot(p: Page, name: string): Promise<void> {
  for (const [size, width] of [['phone', 390], ['desktop', 1280]] as const) {
    await p.setViewportSize({ width, height: 900 });
    await p.waitForTimeout(200);
    await p.screenshot({ path: join(SCREENSHOTS, `${name}-${size}.png`), fullPage: true, animations: 'disabled' });
  }
  await p.setViewportSize({ width: 1280, height: 900 });
}

describe('admin page', () => {
  it('uploads a BreastMNIST folder, trains, shows the report and publishes a service', async () => {
    await page.goto(app.url);
    await page.getByLabel('User name').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    // an admin lands on the Admin page
    await page.waitForURL('**/admin');
    await page.locator('[data-testid="admin-connection"][data-status="ready"]').waitFor({ timeout: 20_000 });
    // the service the fixture published is listed
    await expect.poll(() => page.locator(`[data-testid="services"] li[data-service="${SERVICE}"]`).count()).toBe(1);

    await page.getByTestId('folder-input').setInputFiles(join(folder, 'breast'));
    await page.getByTestId('duplicates').waitFor({ timeout: 60_000 });
    const count = (split: string, label: string) => page.locator(`[data-testid="counts"] td[data-split="${split}"][data-label="${label}"]`).textContent();
    expect(await count('train', 'malignant')).toBe('147');
    expect(await count('train', 'benign')).toBe('399');
    expect(await count('test', 'malignant')).toBe('42');
    expect(await count('test', 'benign')).toBe('114');
    // the live preview draws the sample's HOG and GLCM
    await page.locator('canvas[aria-label="Sample image with its HOG cells"]').waitFor();
    await shoot(page, 'admin-dataset');

    await page.getByTestId('upload').click();
    await page.getByTestId('uploaded').waitFor({ timeout: 60_000 });
    await page.getByTestId('train').click();
    await page.getByTestId('report').waitFor({ timeout: 120_000 });
    const accuracy = parseFloat((await page.getByTestId('accuracy').textContent()) ?? '');
    expect(accuracy).toBeGreaterThan(60);
    expect(await page.locator('[data-testid="confusion"] tbody tr').count()).toBe(2);
    expect(await page.locator('[data-testid="per-class"] tbody tr').count()).toBe(2);
    // a misclassified cell lists its images, with their thumbnails kept on this device
    const cell = page.locator('[data-testid="confusion"] details').first();
    if (await cell.count()) {
      await cell.locator('summary').click();
      expect(await cell.locator('li img').count()).toBeGreaterThan(0);
    }

    await page.getByTestId('service-name').fill('breast-admin');
    await page.getByTestId('service-description').fill('BreastMNIST trained from the admin page');
    await page.getByTestId('publish').click();
    await expect.poll(() => page.getByTestId('publish-note').textContent(), { timeout: 20_000 }).toContain('Published breast-admin');
    const listed = page.locator('[data-testid="services"] li[data-service="breast-admin"]');
    await listed.waitFor();
    expect(await listed.getByTestId('service-version').textContent()).toBe('version 1');
    await shoot(page, 'admin-report');

    // a second publish makes version 2, and a rollback serves version 1 again
    await page.getByTestId('publish').click();
    await expect.poll(() => listed.getByTestId('service-version').textContent(), { timeout: 20_000 }).toBe('version 2');
    await listed.getByRole('button', { name: 'Roll back' }).click();
    await expect.poll(() => listed.getByTestId('service-version').textContent(), { timeout: 20_000 }).toBe('version 1');
  }, 300_000);

  it('reads a picked .zip (<label>/<file>, wrapped in one folder) and finds a duplicate with another label', async () => {
    const tree: Zippable = {};
    for (const [dir, label] of [['0', 'malignant'], ['1', 'benign']] as const) {
      for (const f of readdirSync(join(dataset('breastmnist'), 'val', dir))) tree[`val-set/${label}/${f}`] = readFileSync(join(dataset('breastmnist'), 'val', dir, f));
    }
    // the same image under both labels: a label conflict, shown before anything is sent
    const first = readdirSync(join(dataset('breastmnist'), 'val', '0'))[0]!;
    tree['val-set/benign/copy.png'] = readFileSync(join(dataset('breastmnist'), 'val', '0', first));
    const zip = join(folder, 'val-set.zip');
    writeFileSync(zip, zipSync(tree));
    await page.getByTestId('zip-input').setInputFiles(zip);
    await page.locator('[data-testid="counts"] td[data-split="train"][data-label="benign"]').waitFor();
    const count = (label: string) => page.locator(`[data-testid="counts"] td[data-split="train"][data-label="${label}"]`).textContent();
    expect(await count('malignant')).toBe('21');
    expect(await count('benign')).toBe('58');
    await expect.poll(() => page.getByTestId('duplicates').textContent(), { timeout: 30_000 }).toContain('carry different labels');
    expect(await page.getByTestId('duplicates').textContent()).toContain('benign/copy.png');
  }, 60_000);
});
