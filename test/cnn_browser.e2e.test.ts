/**
 * Issue 14's must-show, end to end with a real server and headless Chromium (WebGL on
 * SwiftShader): the same tiny CNN (2 epochs, widths 4 and 8) on the same 50 BreastMNIST images,
 * trained once in the admin's page on WebGL (nothing uploaded; curves drawn as it goes) and
 * once in Node (the server's training workers, from the same page, the set uploaded this time);
 * both published with the `device` mode. Both documents are the server's format (integrity
 * hash, the training set's hash as Node computes it). Then, for each model and the same 10 test
 * images, the labels a clinician gets through the channel, the labels the installed app gives
 * offline (network cut) and the labels of Node's predictor (`medclass predict`) are identical,
 * and the scores agree within 1e-4.
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
import { channelThenOffline, largestScoreDifference, pickDeviceService, waitForConnection, type CardResult } from './device_results.ts';
import { dataset } from './golden.ts';
import { ADMIN, CLINICIAN, medclass, startWebapp, testImages, type Webapp } from './webapp_fixture.ts';

const SERVICE = 'breast-cnn-browser';
/** The same settings trained in Node (the server's workers). */
const SERVICE_NODE = 'breast-cnn-node';
const DEVICE_MODE = 'On devices (the model goes to them)';
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

describe('the CNN trained in the admin\'s browser and in Node', () => {
  it('trains in the page on WebGL without uploading, and in Node; both published for devices give medclass predict\'s labels through the channel and offline', async () => {
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
    await admin.getByRole('checkbox', { name: DEVICE_MODE }).check();
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
    await admin.getByTestId('service-name').fill(SERVICE_NODE);
    await admin.getByTestId('service-description').fill('The same tiny CNN trained in Node');
    expect(await admin.getByRole('checkbox', { name: DEVICE_MODE }).isChecked()).toBe(true);
    await admin.getByTestId('publish').click();
    await expect.poll(() => admin.getByTestId('publish-note').textContent(), { timeout: 60_000 }).toContain(`Published ${SERVICE_NODE} as version 1`);
    await admin.close();

    // the images never went to the server before that upload: one upload (the server's training), the browser's model published as a document before it
    const audit = await app.server.store.auditTrail(1000);
    expect(audit.filter((e) => e.action === 'upload').map((e) => e.outcome)).toEqual(['ok']);
    const published = audit.filter((e) => e.action === 'publish' && e.service === SERVICE);
    expect(published.map((e) => e.detail?.['via'])).toEqual(['publishModel']);
    expect(published[0]!.at <= audit.find((e) => e.action === 'upload')!.at).toBe(true);
    expect(audit.filter((e) => e.action === 'publish' && e.service === SERVICE_NODE).map((e) => e.outcome)).toEqual(['ok']);

    // both in the server's format: they load in Node, on the training set as Node extracts it, with the same settings, both allowed on devices
    const split = await loadSplits(join(folder, 'breast'), parseFeatureSpec({ features: ['pixels'], size: 28 }), 1);
    const contentHash = trainingContentHash(split.train.X, split.train.y, split.labels);
    const files: Record<string, string> = {};
    for (const service of [SERVICE, SERVICE_NODE]) {
      const stored = (await app.server.store.model(service))!;
      expect((await app.server.store.findService(service))!.privacyModes).toContain('device');
      const loaded = parseModel(stored.model);
      expect(loaded.doc, service).toMatchObject({ version: 2, labels: ['benign', 'malignant'], spec: { features: ['pixels'], size: 28 }, training: { size: 40, contentHash, params: { type: 'cnn', epochs: 2, widths: [4, 8] } } });
      files[service] = join(folder, `${service}.json`);
      writeFileSync(files[service], stored.model);
    }
    // Node's predictor on the original files
    const node = new Map<string, Map<string, CardResult>>();
    await Promise.all(
      [SERVICE, SERVICE_NODE].map(async (service) => {
        const { stdout } = await medclass(['predict', files[service]!, ...tests, '--json']);
        node.set(service, new Map(stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string } & CardResult).map((r) => [basename(r.file), { label: r.label, scores: r.scores }])));
        expect(node.get(service)!.size).toBe(tests.length);
      }),
    );

    // the clinician: through the channel, then offline in the installed app
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const nurse = await context.newPage();
    await logIn(nurse, CLINICIAN, 'classify');
    await waitForConnection(nurse, 'ready');
    for (const service of [SERVICE, SERVICE_NODE]) {
      await pickDeviceService(nurse, service);
      const { server, device } = await channelThenOffline(context, nurse, service, tests);
      const expected = node.get(service)!;
      for (const t of tests.map((f) => basename(f))) {
        expect(server.get(t)!.label, `${service} ${t} through the channel`).toBe(expected.get(t)!.label);
        expect(device.get(t)!.label, `${service} ${t} offline`).toBe(expected.get(t)!.label);
      }
      const worst = { channel: largestScoreDifference(expected, server, tests), offline: largestScoreDifference(expected, device, tests) };
      process.stdout.write(`${service}: largest score difference from medclass predict: ${worst.channel.toExponential(2)} through the channel, ${worst.offline.toExponential(2)} offline\n`);
      expect(worst.channel).toBeLessThanOrEqual(1e-4);
      expect(worst.offline).toBeLessThanOrEqual(1e-4);
    }
    const agree = tests.filter((t) => node.get(SERVICE)!.get(basename(t))!.label === node.get(SERVICE_NODE)!.get(basename(t))!.label).length;
    process.stdout.write(`the WebGL-trained and the Node-trained models agree on ${agree} of ${tests.length} test images\n`);
    await context.close();
  }, 900_000);
});
