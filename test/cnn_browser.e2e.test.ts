/**
 * The CNN trained in the admin's browser (issue 14's must-show), end to end: headless Chromium
 * (WebGL on SwiftShader) and a real server. The admin picks 50 BreastMNIST images, trains a
 * tiny CNN in the page (2 epochs, widths 4 and 8) with the curves drawn as it goes, reads the
 * report and publishes the model; nothing was uploaded. Then the same settings train on the
 * server (uploaded this time), its epochs drawn the same way. The published document is the server's
 * format (integrity hash, the training set's hash as Node computes it), and a clinician then
 * classifies through the channel with exactly the labels Node's predictor (`medclass predict`)
 * gives with that document.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseModel, trainingContentHash } from '../shared/classify/model.ts';
import { parseFeatureSpec } from '../shared/features/spec.schema.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import { axeViolations } from './axe.ts';
import { launchChromium } from './browser.ts';
import { loadSplits } from './classify_data.ts';
import { dataset } from './golden.ts';
import { ADMIN, CLINICIAN, medclass, startWebapp, testImages, type Webapp } from './webapp_fixture.ts';

const SERVICE = 'breast-cnn-browser';
const SCREENSHOTS = join(PROJECT_ROOT, 'test', 'output', 'screenshots');
/** Images per split and class (0 is malignant, 1 benign): 50 in all. */
const TAKE = { train: 20, test: 5 } as const;

let app: Webapp;
let browser: Browser;
let folder: string;
let tests: string[];

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'medclass-cnn-browser-'));
  for (const [split, n] of Object.entries(TAKE)) {
    for (const [from, to] of [['0', 'malignant'], ['1', 'benign']] as const) {
      const dir = join(folder, 'breast', split, to);
      mkdirSync(dir, { recursive: true });
      for (const f of readdirSync(join(dataset('breastmnist'), split, from)).sort((a, b) => parseInt(a) - parseInt(b)).slice(0, n)) cpSync(join(dataset('breastmnist'), split, from, f), join(dir, f));
    }
  }
  tests = ['malignant', 'benign'].flatMap((l) => readdirSync(join(folder, 'breast', 'test', l)).map((f) => join(folder, 'breast', 'test', l, f)));
  [app, browser] = await Promise.all([startWebapp(testImages(1)), launchChromium()]);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

/** The admin picks the subset and the tiny CNN, to train in the page. */
async function chooseTinyCnn(admin: Page): Promise<void> {
  await admin.locator('[data-testid="admin-connection"][data-status="ready"]').waitFor({ timeout: 30_000 });
  await admin.getByTestId('folder-input').setInputFiles(join(folder, 'breast'));
  await admin.getByTestId('duplicates').waitFor({ timeout: 60_000 });
  await admin.getByTestId('kind-cnn').check();
  await admin.getByTestId('param-size').selectOption('28');
  await admin.getByTestId('cnn-epochs').fill('2');
  await admin.getByTestId('cnn-widths').selectOption({ label: '4, 8 (tiny: a quick check)' });
  await admin.getByTestId('train-in-browser').check();
}

async function logIn(page: Page, user: { username: string; password: string }, lands: string): Promise<void> {
  await page.goto(app.url);
  await page.getByLabel('User name').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`**/${lands}`);
}

describe('the CNN trained in the admin\'s browser', () => {
  it('trains in the page on WebGL, publishes without uploading the images, a clinician gets Node\'s labels; the server path draws its curves too', async () => {
    // axe is injected from outside the app's CSP
    const admin = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    await logIn(admin, ADMIN, 'admin');
    await chooseTinyCnn(admin);
    // no upload is needed to train here, and the page says so
    expect(await admin.getByTestId('train').isEnabled()).toBe(true);
    expect(await admin.getByTestId('upload-not-needed').textContent()).toContain('no upload is needed');
    expect(await axeViolations(admin)).toEqual([]);
    const started = Date.now();
    await admin.getByTestId('train').click();

    // the page says what trains (WebGL on SwiftShader here) and draws the curves as epochs end
    const backend = admin.getByTestId('train-backend');
    await backend.waitFor({ timeout: 120_000 });
    expect(await backend.getAttribute('data-backend')).toBe('webgl');
    expect(await backend.textContent()).toMatch(/^Training in this browser on WebGL/);
    const report = admin.getByTestId('report');
    await report.waitFor({ timeout: 480_000 });
    process.stdout.write(`browser training (decode, 2 epochs, test split) on ${await backend.textContent()}: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    expect(await admin.getByTestId('train-error').count()).toBe(0);
    expect(await report.getByTestId('report-where').textContent()).toMatch(/^Trained in this browser on WebGL .*the images did not leave this device\.$/);
    expect(await report.textContent()).toContain('CNN 4-8 channels, 2 epochs');
    const curves = report.getByTestId('curves');
    expect(await curves.getAttribute('data-epochs')).toBe('2');
    expect(await curves.locator('svg[role="img"] title').allTextContents()).toEqual(['Loss per epoch (cross-entropy, lower is better)', 'Accuracy per epoch (higher is better)']);
    expect(await curves.locator('[data-testid="curves-table"] tbody tr').count()).toBe(2);
    expect(await report.locator('[data-testid="confusion"] tbody tr').count()).toBe(2);
    expect(await report.getByTestId('roc').count()).toBe(1);
    expect(await axeViolations(admin)).toEqual([]);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await admin.screenshot({ path: join(SCREENSHOTS, 'admin-cnn-browser-report-desktop.png'), fullPage: true, animations: 'disabled' });

    await admin.getByTestId('service-name').fill(SERVICE);
    await admin.getByTestId('service-description').fill('A tiny CNN trained in the admin\'s browser');
    await admin.getByTestId('publish').click();
    await expect.poll(() => admin.getByTestId('publish-note').textContent(), { timeout: 60_000 }).toContain(`Published ${SERVICE} as version 1`);

    // the same settings on the server: the set is uploaded, the server's epochs come back as curves
    await admin.getByTestId('train-on-server').check();
    expect(await admin.getByTestId('train-why').textContent()).toBe('Upload a training set first.');
    await admin.getByTestId('upload').click();
    await admin.getByTestId('uploaded').waitFor({ timeout: 60_000 });
    await admin.getByTestId('train').click();
    await admin.getByTestId('train-phase').waitFor({ timeout: 30_000 });
    await expect.poll(() => admin.getByTestId('train').isEnabled(), { timeout: 300_000 }).toBe(true);
    expect(await admin.getByTestId('train-error').count()).toBe(0);
    expect(await report.getByTestId('report-where').count()).toBe(0);
    expect(await report.getByTestId('curves').getAttribute('data-epochs')).toBe('2');
    expect(await report.textContent()).toContain('CNN 4-8 channels, 2 epochs');
    await admin.close();

    // the images never went to the server before that upload: one upload (the server's training), one publish of a document
    const audit = await app.server.store.auditTrail(1000);
    expect(audit.filter((e) => e.action === 'upload').map((e) => e.outcome)).toEqual(['ok']);
    const published = audit.filter((e) => e.action === 'publish' && e.service === SERVICE);
    expect(published.map((e) => e.detail?.['via'])).toEqual(['publishModel']);
    expect(published[0]!.at <= audit.find((e) => e.action === 'upload')!.at).toBe(true);

    // the server's format: it loads in Node, and the training set hashes as Node extracts it
    const stored = (await app.server.store.model(SERVICE))!;
    const loaded = parseModel(stored.model);
    expect(loaded.doc).toMatchObject({ version: 2, labels: ['benign', 'malignant'], spec: { features: ['pixels'], size: 28 }, training: { size: 40, params: { type: 'cnn', epochs: 2, widths: [4, 8] } } });
    const split = await loadSplits(join(folder, 'breast'), parseFeatureSpec({ features: ['pixels'], size: 28 }), 1);
    expect(loaded.doc.training.contentHash).toBe(trainingContentHash(split.train.X, split.train.y, split.labels));
    const file = join(folder, 'browser-cnn.json');
    writeFileSync(file, stored.model);
    const { stdout } = await medclass(['predict', file, ...tests, '--json']);
    const node = new Map(stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; label: string }).map((r) => [basename(r.file), r.label]));
    expect(node.size).toBe(tests.length);

    const nurse = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await logIn(nurse, CLINICIAN, 'classify');
    await nurse.locator('[data-testid="connection"][data-status="ready"]').waitFor({ timeout: 30_000 });
    await nurse.getByTestId('service-select').selectOption(SERVICE);
    await nurse.getByTestId('files-input').setInputFiles(tests);
    await nurse.waitForFunction((n) => document.querySelectorAll('[data-testid="result"][data-state="done"]').length === n, tests.length, { timeout: 60_000 });
    for (const t of tests) {
      const card = nurse.locator(`[data-testid="result"][data-file="${basename(t)}"]`);
      expect(await card.getByTestId('label').textContent(), basename(t)).toBe(node.get(basename(t)));
    }
    await nurse.close();
  }, 900_000);
});
