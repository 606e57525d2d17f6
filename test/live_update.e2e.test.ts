/**
 * An open clinician page follows its service without a reload: a publish (here by another
 * writer on the data folder, as `medclass publish` would be) and a rollback by an admin over
 * the channel show at once, with the version's own description; a classify request prepared
 * for the old version (a feature vector of the old spec, queued while offline) is redone
 * against the new version instead of failing with `invalidSpec`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggedInClient } from './channel_login.ts';
import { MedclassClient } from '../shared/client/client.ts';
import { launchChromium } from './browser.ts';
import { ADMIN, CLINICIAN, medclass, SERVICE, startWebapp, testImages, type Webapp } from './webapp_fixture.ts';

const IMAGE = testImages(1)[0]!;
const V1_DESCRIPTION = 'Breast ultrasound (BreastMNIST, 28 × 28): malignant or benign. SVM on HOG and GLCM features.';
const V2_DESCRIPTION = 'Version two: six scalar features, no HOG vector.';

let app: Webapp;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let admin: MedclassClient;

beforeAll(async () => {
  [app, browser] = await Promise.all([startWebapp([IMAGE]), launchChromium()]);
  // version 2's model: another spec, so that version 1's feature vectors do not fit it
  const model = join(app.work, 'model-v2.json');
  await medclass(['train', app.breast, '--size', '0', '--features', 'hogMean,hogVariance,glcmEnergy,glcmContrast,glcmHomogeneity,glcmCorrelation', '--out', model]);
  await app.server.store.publish({ service: SERVICE, description: V2_DESCRIPTION, privacyModes: ['reduced', 'features'], model: readFileSync(model, 'utf8'), createdBy: 'test' });
  // version 1 is served when the page opens
  await app.server.store.makeCurrent(SERVICE, 1, 'test');
  admin = await loggedInClient({ url: app.url, pin: app.server.pin }, ADMIN.username, ADMIN.password);
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
}, 180_000);

afterAll(async () => {
  admin?.close();
  await browser?.close();
  await app?.stop();
});

const info = () => page.getByTestId('service-info').textContent();
const connection = (status: string) => page.locator(`[data-testid="connection"][data-status="${status}"]`).waitFor({ timeout: 20_000 });

describe('a clinician page open while the service changes', () => {
  it('shows a publish and a rollback as they happen, each with its own description', async () => {
    await page.goto(app.url);
    await page.getByLabel('User name').fill(CLINICIAN.username);
    await page.getByLabel('Password').fill(CLINICIAN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/classify');
    await connection('ready');
    expect(await info()).toContain('version 1');
    expect(await info()).toContain(V1_DESCRIPTION);

    // another writer on the data folder makes version 2 current: seen within the server's look-up interval
    await app.server.store.makeCurrent(SERVICE, 2, 'test');
    await expect.poll(info, { timeout: 20_000 }).toContain('version 2');
    expect(await info()).toContain(V2_DESCRIPTION);
    expect(await page.getByTestId('toast').last().textContent()).toContain(`${SERVICE} now serves version 2 (it was 1)`);

    // an admin rolls back over the channel: pushed at once
    await admin.makeCurrent(SERVICE, 1);
    await expect.poll(info, { timeout: 20_000 }).toContain('version 1');
    expect(await info()).toContain(V1_DESCRIPTION);
    expect(await info()).toContain('original, reduced, features');
  }, 60_000);

  it('redoes a request prepared for the old version against the new one', async () => {
    await page.getByTestId('mode-features').check();
    // once online with version 1 (which also loads the page's feature code before going offline)
    await page.getByTestId('files-input').setInputFiles(IMAGE);
    const done = page.locator('[data-testid="result"][data-state="done"]');
    await done.first().waitFor({ timeout: 60_000 });
    expect(await done.first().textContent()).toContain('model v1');
    // prepared for version 1 while offline: it waits in the queue
    await context.setOffline(true);
    await connection('offline');
    await page.getByTestId('files-input').setInputFiles(IMAGE);
    await page.locator('[data-testid="result"][data-state="queued"]').waitFor({ timeout: 30_000 });
    // meanwhile version 2 is made current; the page does not hear of it until it is back
    await admin.makeCurrent(SERVICE, 2);
    await context.setOffline(false);
    await expect.poll(() => done.count(), { timeout: 60_000 }).toBe(2);
    // newest first
    expect(await done.first().textContent()).toContain('model v2');
    expect(await info()).toContain('version 2');
    // the server saw the old vector refused by version 2, then the new one classified
    const trail = (await app.server.store.auditTrail(50)).filter((e) => e.action === 'classify' && e.service === SERVICE);
    expect(trail.slice(0, 2).map((e) => [e.outcome, e.modelVersion, e.detail?.['mode']])).toEqual([
      ['ok', 2, 'features'],
      ['failed', 2, 'features'],
    ]);
  }, 90_000);

  it('says plainly when a raced request cannot be redone without sending more than the clinician chose', async () => {
    // queued offline in features mode for version 2 ...
    await context.setOffline(true);
    await connection('offline');
    await page.getByTestId('files-input').setInputFiles(IMAGE);
    await page.locator('[data-testid="result"][data-state="queued"]').waitFor({ timeout: 30_000 });
    // ... while version 3, which takes only original files, becomes current
    const v3 = await app.server.store.publish({ service: SERVICE, description: 'Originals only', privacyModes: ['original'], model: (await app.server.store.model(SERVICE, 1))!.model, createdBy: 'test' });
    expect(v3.version).toBe(3);
    await context.setOffline(false);
    const failed = page.locator('[data-testid="result"][data-state="failed"]');
    await failed.waitFor({ timeout: 60_000 });
    expect(await failed.textContent()).toContain(
      `${SERVICE} changed from version 2 to 3 while this image was on its way, and the new version takes only original: more than the features data you chose, so nothing was sent again. Choose the file again if you agree to that.`,
    );
    // nothing was sent in a wider mode: the server saw one refused features request
    const last = (await app.server.store.auditTrail(50)).find((e) => e.service === SERVICE && e.action === 'classify');
    expect(last).toMatchObject({ outcome: 'ok', modelVersion: 2 });
    expect(await failed.getByTestId('retry').count()).toBe(0);
  }, 90_000);
});
