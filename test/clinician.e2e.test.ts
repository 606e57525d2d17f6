import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../server/paths.ts';
import { formatPin, generateIdentity } from '../shared/protocol/identity.ts';
import { launchChromium } from './browser.ts';
import { ADMIN, CLINICIAN, LABELS, SERVICE, startWebapp, testImages, type Webapp } from './webapp_fixture.ts';

const SCREENSHOTS = join(PROJECT_ROOT, 'test', 'output', 'screenshots');
const IMAGES = testImages(3);

let app: Webapp;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  [app, browser] = await Promise.all([startWebapp(IMAGES), launchChromium()]);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

/** Full-page screenshots at phone and desktop widths. */
async function shoot(p: Page, name: string): Promise<void> {
  for (const [size, width] of [['phone', 390], ['desktop', 1280]] as const) {
    await p.setViewportSize({ width, height: 900 });
    // let the layout settle and transitions end
    await p.waitForTimeout(150);
    await p.screenshot({ path: join(SCREENSHOTS, `${name}-${size}.png`), fullPage: true, animations: 'disabled' });
  }
}

async function logIn(p: Page, user: { username: string; password: string }): Promise<void> {
  await p.getByLabel('User name').fill(user.username);
  await p.getByLabel('Password').fill(user.password);
  await p.getByRole('button', { name: 'Log in' }).click();
  await p.waitForURL('**/classify');
}

const connection = (p: Page, status: string) => p.locator(`[data-testid="connection"][data-status="${status}"]`).waitFor({ timeout: 20_000 });
const doneCount = (p: Page) => p.locator('[data-testid="result"][data-state="done"]').count();

/** IndexedDB as stored, read from the page: every history record's fields and bytes as text, and the keys. */
async function storedRecords(p: Page) {
  return p.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('medclass');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const all = <T,>(store: string, keysOnly = false) =>
      new Promise<T[]>((resolve, reject) => {
        const s = db.transaction(store).objectStore(store);
        const r = keysOnly ? s.getAllKeys() : s.getAll();
        r.onsuccess = () => resolve(r.result as T[]);
        r.onerror = () => reject(r.error);
      });
    const latin1 = new TextDecoder('latin1');
    const text = (v: unknown): string =>
      v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? latin1.decode(v) : typeof v === 'string' ? v : JSON.stringify(v);
    const history = await all<Record<string, unknown>>('history');
    const queue = await all<Record<string, unknown>>('queue');
    const keyNames = await all<string>('keys', true);
    // the device keeps each user's keys only wrapped (AES-KW) under the user's vault key from the server
    const keys = await all<unknown>('keys');
    const records = [...history, ...queue].map((r) => ({ fields: Object.keys(r).sort(), text: Object.values(r).map(text).join('\n') }));
    db.close();
    return {
      history: history.length,
      queue: queue.length,
      records,
      keyNames,
      keys: keys.map((k) => ({ isCryptoKey: k instanceof CryptoKey, wrappedBytes: k instanceof ArrayBuffer ? k.byteLength : null })),
      localStorage: Object.keys(localStorage).map((k) => `${k}=${localStorage.getItem(k)}`).join('\n'),
    };
  });
}

describe('the clinician web app against a real server', () => {
  it('sends / to the login page, refuses a wrong password, then logs a clinician in', async () => {
    await page.goto(app.url);
    await page.waitForURL('**/login');
    await shoot(page, 'login');
    await page.getByLabel('User name').fill(CLINICIAN.username);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect(page.getByTestId('login-error').textContent()).resolves.toMatch(/wrong user name or password/i);
    await page.getByLabel('Password').fill(CLINICIAN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/classify');
    await expect(page.getByTestId('who').textContent()).resolves.toContain(CLINICIAN.username);
    // a clinician has no admin page in the nav
    await expect(page.getByRole('link', { name: 'Admin' }).count()).resolves.toBe(0);
    await connection(page, 'ready');
    await page.getByTestId('log-empty').waitFor();
    await shoot(page, 'clinician-empty');
  });

  it('classifies dropped BreastMNIST images with the labels of medclass predict, with a notification and stage timings', async () => {
    await page.getByTestId('service-select').selectOption(SERVICE);
    const info = (await page.getByTestId('service-info').textContent())!;
    for (const l of LABELS) expect(info).toContain(l);
    expect(info).toContain('version 1');
    await expect(page.getByTestId('mode-reduced').isChecked()).resolves.toBe(true);

    await page.getByTestId('files-input').setInputFiles(IMAGES);
    await expect(page.getByTestId('toast').first().textContent({ timeout: 30_000 })).resolves.toMatch(/\.png: (malignant|benign)/);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="result"][data-state="done"]').length === n, IMAGES.length, { timeout: 30_000 });

    for (const file of IMAGES) {
      const card = page.locator(`[data-testid="result"][data-file="${basename(file)}"]`);
      await expect(card.getByTestId('label').textContent()).resolves.toBe(app.expected.get(basename(file)));
      const timings = (await card.getByTestId('timings').textContent())!;
      for (const stage of ['Reduce on device', 'Encrypt + network', 'Server decrypt', 'Server extract', 'Server classify', 'Total']) {
        expect(timings).toMatch(new RegExp(`${stage.replace('+', '\\+')}\\s*\\d+(\\.\\d)? ms`));
      }
      const scores = await card.locator('[data-value]').evaluateAll((els) => els.map((e) => [e.getAttribute('data-class'), Number(e.getAttribute('data-value'))] as const));
      expect(scores.map(([c]) => c).sort()).toEqual([...LABELS].sort());
      expect(scores.reduce((s, [, v]) => s + v, 0)).toBeCloseTo(1, 6);
      await expect(card.textContent()).resolves.toContain('28 × 28 grey pixels');
    }
    await shoot(page, 'clinician');
  });

  it('sends only features when asked, with the same labels (and keeps thumbnails when opted in)', async () => {
    await page.getByTestId('mode-features').check();
    await page.getByTestId('keep-thumbnails').check();
    const before = await doneCount(page);
    const picked = [IMAGES[0]!, IMAGES.at(-1)!];
    await page.getByTestId('files-input').setInputFiles(picked);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="result"][data-state="done"]').length === n, before + 2, { timeout: 30_000 });
    const newest = page.locator('[data-testid="result"]');
    for (const [i, file] of picked.entries()) {
      const card = newest.nth(i);
      await expect(card.getAttribute('data-file')).resolves.toBe(basename(file));
      await expect(card.getByTestId('label').textContent()).resolves.toBe(app.expected.get(basename(file)));
      await expect(card.textContent()).resolves.toContain('150 feature values');
    }
  });

  it('keeps the history across a reload, sealed: no label, service or file name in IndexedDB, a non-extractable key', async () => {
    const total = await doneCount(page);
    await page.reload();
    await connection(page, 'ready');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="result"][data-state="done"]').length === n, total);
    for (const file of IMAGES) {
      await expect(page.locator(`[data-testid="result"][data-file="${basename(file)}"]`).last().getByTestId('label').textContent()).resolves.toBe(app.expected.get(basename(file)));
    }
    // thumbnails were kept only for the two classified after opting in
    const thumbs = await page.locator('[data-testid="result"]').evaluateAll((cards) => cards.map((c) => c.querySelector('img.thumb') !== null));
    expect(thumbs).toEqual([true, true, ...IMAGES.map(() => false)]);
    const stored = await storedRecords(page);
    expect(stored.history).toBe(total);
    expect(stored.queue).toBe(0);
    for (const r of stored.records) {
      expect(r.fields).toEqual(['data', 'id', 'iv', 'owner']);
      for (const secret of [...LABELS, SERVICE, '.png', 'label', 'scores']) expect(r.text).not.toContain(secret);
    }
    expect(stored.keyNames.some((n) => n.endsWith('/history'))).toBe(true);
    // a 256-bit key wrapped with AES-KW is 40 bytes; no usable key is stored on the device
    for (const k of stored.keys) expect(k).toEqual({ isCryptoKey: false, wrappedBytes: 40 });
    for (const n of stored.keyNames) expect(n).not.toContain(CLINICIAN.username);
    // the token lives in sessionStorage only
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('medclass.session')!).token as string);
    expect(stored.localStorage).not.toContain(token);
  });

  it('clears the history: entries and key gone, also after a reload', async () => {
    await page.getByTestId('clear-history').click();
    await page.getByTestId('confirm-clear').click();
    await page.getByTestId('log-empty').waitFor();
    let stored = await storedRecords(page);
    expect(stored.history).toBe(0);
    expect(stored.keyNames.some((n) => n.endsWith('/history'))).toBe(false);
    await page.reload();
    await page.getByTestId('log-empty').waitFor();
    stored = await storedRecords(page);
    expect(stored.history).toBe(0);
  });

  it('goes back to the login page when the server no longer takes the token', async () => {
    await page.evaluate(() => {
      const s = JSON.parse(sessionStorage.getItem('medclass.session')!);
      sessionStorage.setItem('medclass.session', JSON.stringify({ ...s, token: 'a-token-the-server-never-gave' }));
    });
    await page.reload();
    await page.waitForURL('**/login?next=%2Fclassify');
    await expect(page.getByTestId('login-notice').textContent()).resolves.toMatch(/session has expired/);
    await shoot(page, 'login-expired');
    await logIn(page, CLINICIAN);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL('**/login');
    await expect(page.evaluate(() => sessionStorage.getItem('medclass.session'))).resolves.toBeNull();
  });

  it('refuses a server whose key is not the pinned one, and says so', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const other = await generateIdentity();
    await context.route('**/api/config', (route) => route.fulfill({ json: { pin: formatPin(other), fingerprint: other.fingerprint, websocket: '/ws' } }));
    const p = await context.newPage();
    await p.goto(`${app.url}/login`);
    // the login happens inside the channel: it never starts with a server that fails the key check
    await p.getByLabel('User name').fill(CLINICIAN.username);
    await p.getByLabel('Password').fill(CLINICIAN.password);
    await p.getByRole('button', { name: 'Log in' }).click();
    await expect(p.getByTestId('login-error').textContent()).resolves.toMatch(/could not be verified/i);
    await shoot(p, 'login-untrusted');
    await context.close();
  });

  it('says when the server cannot be reached', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.route('**/api/**', (route) => route.abort('connectionrefused'));
    const p = await context.newPage();
    await p.goto(`${app.url}/login`);
    await p.getByLabel('User name').fill(CLINICIAN.username);
    await p.getByLabel('Password').fill(CLINICIAN.password);
    await p.getByRole('button', { name: 'Log in' }).click();
    await expect(p.getByTestId('login-error').textContent()).resolves.toMatch(/cannot be reached/);
    await context.close();
  });

  it('takes an admin from a login to the Admin page and back through the nav', async () => {
    await page.goto(`${app.url}/admin`);
    await page.waitForURL('**/login?next=%2Fadmin');
    await page.getByLabel('User name').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/admin');
    await expect(page.getByTestId('admin').textContent()).resolves.toMatch(/Train and publish a model/);
    await page.getByRole('navigation').getByRole('link', { name: 'Classify' }).click();
    await page.waitForURL('**/classify');
    await page.getByRole('navigation').getByRole('link', { name: 'Admin' }).click();
    await page.waitForURL('**/admin');
  });
});
