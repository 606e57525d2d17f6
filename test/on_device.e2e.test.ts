/**
 * Classifying on the device (issue 14): against a real server, an SVM service, a tiny CNN
 * service and an ensemble (the format-3 fixture: SVM and CNN averaged) whose versions allow
 * `device`, and the fixture's `demo` that does not. The clinician in headless Chromium
 * classifies the same images through the channel, then offline with the downloaded models: the labels are identical and the scores within 1e-4. `demo` offers no
 * download and the server refuses one; a new version without the mode drops the model.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientError } from '../shared/client/client.ts';
import { fetchDeviceModel } from '../shared/client/device_model_api.ts';
import { parseModel } from '../shared/classify/model.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import { launchChromium } from './browser.ts';
import { loggedInClient } from './channel_login.ts';
import { cachedOutput } from './build_cache.ts';
import { channelThenOffline, largestScoreDifference, pickDeviceService, waitForConnection } from './device_results.ts';
import { dataset } from './golden.ts';
import { CLINICIAN, medclass, SERVICE, startWebapp, testImages, type Webapp } from './webapp_fixture.ts';

const IMAGES = testImages(2);
const SVM = 'svm-device';
const CNN = 'cnn-device';
/** The format-3 fixture: an SVM on HOG and GLCM scalars with a tiny CNN, probabilities averaged, a threshold. */
const ENSEMBLE = 'ensemble-device';

let app: Webapp;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let cnnText: string;
/** The fixture's SVM (service `demo`, which does not allow devices). */
let svmText: string;

/** 20 BreastMNIST training images per class (and 4 for val): enough for a network that only has to exist. */
function tinySet(root: string): string {
  for (const [split, n] of [['train', 20], ['val', 4]] as const) {
    for (const label of ['0', '1']) {
      const from = join(dataset('breastmnist'), split, label);
      mkdirSync(join(root, split, label), { recursive: true });
      for (const f of readdirSync(from).sort((a, b) => parseInt(a) - parseInt(b)).slice(0, n)) cpSync(join(from, f), join(root, split, label, f));
    }
  }
  return root;
}

/** The tiny CNN, trained once per content of the code that trains it (test/build_cache.ts). */
async function tinyCnn(): Promise<string> {
  const dir = await cachedOutput('on-device-cnn', ['server', 'shared', 'package-lock.json'], async (out) => {
    await medclass(['train', tinySet(join(out, 'tiny')), '--classifier', 'cnn', '--epochs', '1', '--widths', '4,8', '--out', join(out, 'cnn.json')]);
  });
  return readFileSync(join(dir, 'cnn.json'), 'utf8');
}

beforeAll(async () => {
  [app, browser, cnnText] = await Promise.all([startWebapp(IMAGES), launchChromium(), tinyCnn()]);
  svmText = (await app.server.store.model(SERVICE))!.model;
  await app.server.store.publish({ service: SVM, description: 'the SVM, allowed on devices', privacyModes: ['reduced', 'device'], model: svmText, createdBy: 'test' });
  await app.server.store.publish({ service: CNN, description: 'a tiny CNN, allowed on devices', privacyModes: ['reduced', 'device'], model: cnnText, createdBy: 'test' });
  const ensembleText = readFileSync(join(PROJECT_ROOT, 'test', 'data', 'models', 'breast_ensemble_v3.json'), 'utf8');
  await app.server.store.publish({ service: ENSEMBLE, description: 'an SVM and a CNN averaged, allowed on devices', privacyModes: ['reduced', 'device'], model: ensembleText, createdBy: 'test' });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

const connection = (status: string) => waitForConnection(page, status);

/** Models sealed in this browser's vault. */
const sealedModels = () =>
  page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('medclass');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const r = open.result.transaction('models').objectStore('models').count();
          r.onsuccess = () => {
            resolve(r.result);
            open.result.close();
          };
          r.onerror = () => reject(r.error);
        };
      }),
  );

async function pickService(name: string): Promise<void> {
  await page.getByTestId('service-select').selectOption(name);
  await page.getByTestId('service-info').waitFor();
}

describe('classifying on the device', () => {
  it('the server gives the model only where the version allows it, and audits both', async () => {
    const client = await loggedInClient({ url: app.url, pin: app.server.pin }, CLINICIAN.username, CLINICIAN.password);
    try {
      const refused = await fetchDeviceModel(client, SERVICE).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ClientError);
      expect(refused).toMatchObject({ code: 'modeNotAllowed', message: expect.stringMatching(/not allowed on devices/) });
      const got = await fetchDeviceModel(client, CNN);
      expect(got).toMatchObject({ service: CNN, version: 1, classifier: 'cnn' });
      expect(got.document).toBe(cnnText);
      expect(parseModel(got.document).labels).toEqual(parseModel(cnnText).labels);
    } finally {
      client.close();
    }
    const audit = await app.server.store.searchAudit({ action: 'deviceModel', limit: 10 });
    expect(audit.map((e) => [e.user, e.service, e.outcome])).toEqual([
      [CLINICIAN.username, CNN, 'ok'],
      [CLINICIAN.username, SERVICE, 'modeNotAllowed'],
    ]);
  });

  it('offers no download where the service does not allow it, and says why', async () => {
    await page.goto(`${app.url}/login`);
    await page.getByLabel('User name').fill(CLINICIAN.username);
    await page.getByLabel('Password').fill(CLINICIAN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await connection('ready');
    await pickService(SERVICE);
    await expect(page.getByTestId('device-model').getAttribute('data-status')).resolves.toBe('notAllowed');
    await expect(page.getByTestId('device-model').textContent()).resolves.toMatch(/not offered: the administrator has not allowed/);
    expect(await page.getByTestId('mode-device').count()).toBe(0);
  }, 120_000);

  for (const service of [SVM, CNN, ENSEMBLE]) {
    it(`${service}: the same labels and scores (within 1e-4) through the channel and offline on the device`, async () => {
      await pickDeviceService(page, service);
      const { server, device } = await channelThenOffline(context, page, service, IMAGES, async () => {
        const card = page.locator('[data-testid="result"][data-where="device"]').first();
        await expect(card.getByTestId('sent').textContent()).resolves.toMatch(/classified on this device/);
        await expect(card.locator('[data-stage="classifyMs"]').count()).resolves.toBe(1);
        await expect(card.locator('[data-stage="networkMs"]').count()).resolves.toBe(0);
        const stages = await card.locator('[data-stage]').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-stage')} ${e.textContent}`).join(', '));
        console.log(`${service} on the device: ${stages}`);
      });
      // online, on the device when the clinician chooses it
      await page.getByTestId('mode-device').check();
      await page.getByTestId('files-input').setInputFiles(IMAGES[0]!);
      const chosen = `[data-testid="result"][data-state="done"][data-service="${service}"][data-where="device"]`;
      await page.waitForFunction((s) => document.querySelectorAll(s).length === 5, chosen, { timeout: 60_000 });
      await page.getByTestId('mode-reduced').check();

      for (const file of IMAGES.map((f) => basename(f))) expect(device.get(file)!.label, file).toBe(server.get(file)!.label);
      const worst = largestScoreDifference(server, device, IMAGES);
      console.log(`${service}: the largest score difference between the server and the device is ${worst.toExponential(2)}`);
      expect(worst).toBeLessThanOrEqual(1e-4);
    }, 240_000);
  }

  it('drops the model when a new version no longer allows devices, and fetches it again on a rollback', async () => {
    expect(await sealedModels()).toBe(3);
    await app.server.store.publish({ service: SVM, description: 'server only now', privacyModes: ['reduced'], model: svmText, createdBy: 'test' });
    await pickService(SVM);
    await page.locator('[data-testid="device-model"][data-status="notAllowed"]').waitFor({ timeout: 30_000 });
    await expect.poll(sealedModels, { timeout: 10_000 }).toBe(2);
    // a rollback to the version that allowed it brings that version's model back
    await app.server.store.makeCurrent(SVM, 1, 'test');
    await page.locator('[data-testid="device-model"][data-status="ready"]').waitFor({ timeout: 30_000 });
    await expect(page.getByTestId('device-model').textContent()).resolves.toMatch(/version 1,/);
    await expect.poll(sealedModels, { timeout: 10_000 }).toBe(3);
  }, 120_000);
});
