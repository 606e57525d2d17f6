/**
 * The admin page end to end: an admin picks a BreastMNIST folder (train and test splits, classes
 * named), sees the counts and the duplicate check, uploads it, trains an SVM, reads the report
 * and publishes it as a new service, which then shows in the hosted services.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'fast-png';
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
    // ROC curves per class drawn (an accessible SVG) with the operating points, and a table beside them
    const roc = page.getByTestId('roc');
    expect(await roc.locator('svg title').textContent()).toBe('ROC curves per class, one-vs-rest, on the test split');
    expect(await roc.locator('svg desc').textContent()).toMatch(/^benign: AUC 0\.\d{3}, operating point false positive rate \d\.\d{3}, true positive rate \d\.\d{3}; malignant: AUC/);
    expect(await roc.locator('svg path').count()).toBe(2);
    expect(await roc.locator('svg circle').count()).toBe(2);
    expect(await roc.locator('[data-testid="roc-table"] tbody tr').count()).toBe(2);
    // a misclassified cell lists its images, with their thumbnails kept on this device
    const cell = page.locator('[data-testid="confusion"] details').first();
    if (await cell.count()) {
      await cell.locator('summary').click();
      expect(await cell.locator('li img').count()).toBeGreaterThan(0);
    }

    await page.getByTestId('service-name').fill('breast-admin');
    await page.getByTestId('service-description').fill('BreastMNIST SVM trained from the admin page');
    await page.getByTestId('publish').click();
    await expect.poll(() => page.getByTestId('publish-note').textContent(), { timeout: 20_000 }).toContain('Published breast-admin');
    const listed = page.locator('[data-testid="services"] li[data-service="breast-admin"]');
    await listed.waitFor();
    expect(await listed.getByTestId('service-version').textContent()).toBe('version 1');
    await shoot(page, 'admin-report');

    // no second click publishes the same model again: Publish waits for a new training, and says so
    expect(await page.getByTestId('publish').isDisabled()).toBe(true);
    expect(await page.getByTestId('publish-why').textContent()).toBe('This training is published. Train again to publish another version.');

    // the upload stays on the server: a second training on it, KNN this time
    expect(await page.getByTestId('kept-upload').textContent()).toContain('kept for further trainings');
    await page.getByTestId('kind-knn').check();
    await page.getByTestId('train').click();
    await page.getByTestId('train-phase').waitFor({ timeout: 20_000 });
    // a new training clears the last one's status lines
    expect(await page.getByTestId('publish-note').count()).toBe(0);
    await expect.poll(() => page.getByTestId('train').isEnabled(), { timeout: 120_000 }).toBe(true);
    await page.getByTestId('report').waitFor();
    expect(await page.getByTestId('report').textContent()).toContain('KNN');
    expect(await page.getByTestId('publish').isEnabled()).toBe(true);
    await page.getByTestId('service-description').fill('BreastMNIST KNN, features only');
    await page.getByRole('checkbox', { name: 'Original image' }).uncheck();
    await page.getByRole('checkbox', { name: 'Reduced pixels' }).uncheck();
    await page.getByTestId('publish').click();
    await expect.poll(() => listed.getByTestId('service-version').textContent(), { timeout: 20_000 }).toBe('version 2');
    expect(await listed.getByTestId('service-description-shown').textContent()).toBe('BreastMNIST KNN, features only');

    // every kept version with its date, author, classifier, features and metrics
    const rows = listed.locator('[data-testid="versions"] tbody tr');
    expect(await rows.count()).toBe(2);
    const v1 = listed.locator('[data-testid="versions"] tr[data-version="1"]');
    const v2 = listed.locator('[data-testid="versions"] tr[data-version="2"]');
    expect(await v1.textContent()).toMatch(/by admin.*SVM rbf.*HOG vector.*accuracy \d+\.\d%.*test split, 156 images.*BreastMNIST SVM trained from the admin page.*original, reduced, features/);
    expect(await v2.textContent()).toMatch(/KNN.*BreastMNIST KNN, features only.*features/);
    expect(await listed.getByTestId('make-current').isDisabled()).toBe(true);
    await shoot(page, 'admin-versions');

    // back to version 1: its own description and modes
    await v1.getByTestId('pick-version').check();
    await listed.getByRole('button', { name: 'Roll back to version 1' }).click();
    await expect.poll(() => listed.getByTestId('service-version').textContent(), { timeout: 20_000 }).toBe('version 1');
    expect(await listed.getByTestId('service-description-shown').textContent()).toBe('BreastMNIST SVM trained from the admin page');
    expect(await listed.locator('.svc-head').textContent()).toContain('original, reduced, features');
    expect(await page.getByTestId('service-note').textContent()).toBe('breast-admin now serves version 1 (it was 2).');
    // and forward to version 2 again
    await v2.getByTestId('pick-version').check();
    await listed.getByRole('button', { name: 'Roll forward to version 2' }).click();
    await expect.poll(() => listed.getByTestId('service-version').textContent(), { timeout: 20_000 }).toBe('version 2');
    expect(await listed.getByTestId('service-description-shown').textContent()).toBe('BreastMNIST KNN, features only');

    // automatic tuning on the server: what it tried and why, in the report
    await page.getByTestId('auto').check();
    await page.getByTestId('auto-budget').selectOption('30');
    // AUC ranks first by default; the page can ask for balanced accuracy first
    expect(await page.getByTestId('auto-rank-by').inputValue()).toBe('auc');
    await page.getByTestId('auto-rank-by').selectOption('balanced');
    expect(await page.getByText('The settings below are not used.').count()).toBe(1);
    await page.getByTestId('train').click();
    await page.getByTestId('train-phase').waitFor({ timeout: 20_000 });
    await page.getByTestId('auto-report').waitFor({ timeout: 180_000 });
    expect(await page.getByTestId('auto-reason').textContent()).toMatch(/^Chosen: .+ Why: highest cross-validated balanced accuracy/);
    expect(await page.locator('[data-testid="auto-sets"] tbody tr').count()).toBeGreaterThan(1);
    expect(await page.getByTestId('auto-threshold').textContent()).toMatch(/Decision threshold/);
    await shoot(page, 'admin-auto-report');

    // a reload of the page still knows the set the server keeps, and can train on it
    await page.reload();
    await page.locator('[data-testid="admin-connection"][data-status="ready"]').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('kept-upload').textContent()).toContain('breast is on the server');
    expect(await page.getByTestId('train').isEnabled()).toBe(true);
    // the admin drops the kept set: Train then says why it is greyed
    await page.getByTestId('drop-upload').click();
    await page.getByTestId('kept-upload').waitFor({ state: 'detached' });
    expect(await page.getByTestId('train').isDisabled()).toBe(true);
    expect(await page.getByTestId('train-why').textContent()).toBe('Upload a training set first.');
  }, 480_000);

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

  it('catches images of several sizes before upload and offers one size for all', async () => {
    const mixed = join(folder, 'mixed');
    for (const [label, dir] of [['malignant', '0'], ['benign', '1']] as const) {
      mkdirSync(join(mixed, label), { recursive: true });
      for (const f of readdirSync(join(dataset('breastmnist'), 'val', dir)).slice(0, 6)) cpSync(join(dataset('breastmnist'), 'val', dir, f), join(mixed, label, f));
      // two 64 x 64 images in each class
      for (const i of [1, 2]) writeFileSync(join(mixed, label, `big${i}.png`), encode({ width: 64, height: 64, channels: 1, depth: 8, data: new Uint8Array(64 * 64).map((_, j) => (j * i * 7) % 256) }));
    }
    expect(await page.getByTestId('param-size').inputValue()).toBe('0');
    await page.getByTestId('folder-input').setInputFiles(mixed);
    const warning = page.getByTestId('mixed-sizes');
    await warning.waitFor({ timeout: 30_000 });
    expect(await warning.textContent()).toContain('These images have 2 different sizes (28×28, 64×64). Training needs one size.');
    expect(await page.getByTestId('resize-side').inputValue()).toBe('28');
    await page.getByTestId('resize-side').selectOption('64');
    await page.getByTestId('resize-all').click();
    expect(await page.getByTestId('param-size').inputValue()).toBe('64');
    await warning.waitFor({ state: 'detached' });
  }, 60_000);
});
