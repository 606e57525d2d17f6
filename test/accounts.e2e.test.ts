/**
 * Accounts in the web app, in Chromium against a real server: an admin adds a user (one-time
 * password), changes their role, disables and re-enables them, resets their password; the user
 * replaces the one-time password at login and later changes their own; the admin reads the
 * audit trail, filters it and exports CSV. Every page passes axe; the vault locks at logout.
 */
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations as violations } from './axe.ts';
import { launchChromium } from './browser.ts';
import { ADMIN, CLINICIAN, startWebapp, testImages, type Webapp } from './webapp_fixture.ts';

const NEW_USER = 'ward.nurse';
const CHOSEN = 'my own long password';
const CHANGED = 'another long password';

let app: Webapp;
let browser: Browser;

beforeAll(async () => {
  [app, browser] = await Promise.all([startWebapp(testImages(1)), launchChromium()]);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

async function newPage(): Promise<Page> {
  // the app's CSP rightly refuses injected scripts; axe is injected from outside it
  return (await browser.newContext({ bypassCSP: true })).newPage();
}

async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto(`${app.url}/login`);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

describe('accounts in the web app', () => {
  let admin: Page;
  let otp: string;

  it('lets an admin add a user with a one-time password, change their role, disable and re-enable them', async () => {
    admin = await newPage();
    await logIn(admin, ADMIN.username, ADMIN.password);
    // admins land on the Admin page
    await admin.waitForURL('**/admin');
    await admin.getByRole('link', { name: 'Users' }).click();
    await admin.getByTestId(`user-${CLINICIAN.username}`).waitFor();
    expect(await violations(admin)).toEqual([]);

    await admin.getByLabel('New user name').fill(NEW_USER);
    await admin.getByRole('button', { name: 'Add user' }).click();
    otp = (await admin.getByTestId('otp').textContent())!.trim();
    expect(otp).toMatch(/^[\w-]{20}$/);
    const row = admin.getByTestId(`user-${NEW_USER}`);
    await expect.poll(() => row.textContent()).toContain('Must choose a password');
    expect(await violations(admin)).toEqual([]);

    await row.getByLabel(`Role of ${NEW_USER}`).selectOption('admin');
    await expect.poll(() => admin.getByTestId('users-notice').textContent()).toContain(`${NEW_USER} is now an admin`);
    await row.getByLabel(`Role of ${NEW_USER}`).selectOption('clinician');
    await expect.poll(() => admin.getByTestId('users-notice').textContent()).toContain(`${NEW_USER} is now a clinician`);

    await row.getByRole('button', { name: `Disable ${NEW_USER}` }).click();
    await expect.poll(() => row.textContent()).toContain('Disabled');
    // a disabled user cannot log in
    const blocked = await newPage();
    await logIn(blocked, NEW_USER, otp);
    await expect.poll(() => blocked.getByTestId('login-error').textContent()).toMatch(/disabled/i);
    await blocked.context().close();
    await row.getByRole('button', { name: `Enable ${NEW_USER}` }).click();
    await expect.poll(() => row.textContent()).toContain('Must choose a password');
    expect((await app.server.store.findUser(NEW_USER))!.disabled).toBe(false);

    // a reset gives a new one-time password; the first one no longer works
    await admin.getByRole('button', { name: 'I have passed it on' }).click();
    await row.getByRole('button', { name: `Reset password of ${NEW_USER}` }).click();
    const reset = (await admin.getByTestId('otp').textContent())!.trim();
    expect(reset).not.toBe(otp);
    otp = reset;
  }, 120_000);

  it('makes the new user replace the one-time password at login, then change their own password', async () => {
    const page = await newPage();
    await logIn(page, NEW_USER, otp);
    await page.getByTestId('one-time').waitFor();
    expect(await violations(page)).toEqual([]);
    await page.getByLabel('New password', { exact: true }).fill(CHOSEN);
    await page.getByLabel('New password again').fill(CHOSEN);
    await page.getByRole('button', { name: 'Save and log in' }).click();
    await page.waitForURL('**/classify');
    // the vault opened with this user's key, kept only in this tab
    await expect.poll(() => page.evaluate(() => sessionStorage.getItem('medclass.vault') !== null)).toBe(true);

    await page.getByRole('link', { name: 'My account' }).click();
    await page.getByLabel('Current password').waitFor();
    expect(await violations(page)).toEqual([]);
    await page.getByLabel('Current password').fill('not my password at all');
    await page.getByLabel('New password', { exact: true }).fill(CHANGED);
    await page.getByLabel('New password again').fill(CHANGED);
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => page.getByTestId('password-error').textContent()).toMatch(/current password is wrong/);

    await page.getByLabel('Current password').fill(CHOSEN);
    await page.getByLabel('New password', { exact: true }).fill(CHANGED);
    await page.getByLabel('New password again').fill(CHANGED);
    await page.getByRole('button', { name: 'Change password' }).click();
    // every login of the user ends: the login page says why, and the vault is locked
    await page.waitForURL('**/login**');
    await expect.poll(() => page.getByTestId('login-notice').textContent()).toMatch(/password was changed/i);
    expect(await page.evaluate(() => sessionStorage.getItem('medclass.vault'))).toBeNull();
    await logIn(page, NEW_USER, CHANGED);
    await page.waitForURL('**/classify');

    // logout locks the vault
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL('**/login');
    expect(await page.evaluate(() => sessionStorage.getItem('medclass.vault'))).toBeNull();
    await page.context().close();
  }, 120_000);

  it('gives the admin an audit view: filter by user and action, export CSV, no image data', async () => {
    await admin.getByRole('link', { name: 'Audit' }).click();
    await admin.getByTestId('audit').waitFor();
    expect(await violations(admin)).toEqual([]);
    await admin.getByLabel('User').fill(NEW_USER);
    await admin.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => admin.getByTestId('audit').textContent()).toContain('changePassword');
    const rows = await admin.getByTestId('audit').locator('tbody tr').allTextContents();
    expect(rows.every((r) => r.includes(NEW_USER))).toBe(true);

    await admin.getByLabel('User').fill('');
    await admin.getByLabel('Action').fill('addUser');
    await admin.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => admin.getByTestId('audit').textContent()).toContain(`target: ${NEW_USER}`);
    const actions = await admin.getByTestId('audit').locator('tbody tr td:nth-child(3)').allTextContents();
    expect(new Set(actions)).toEqual(new Set(['addUser']));
    const today = new Date().toISOString().slice(0, 10);
    await admin.getByLabel('From (day)').fill(today);
    await admin.getByLabel('To (day)').fill(today);
    await admin.getByLabel('Action').fill('');
    const download = admin.waitForEvent('download');
    await admin.getByTestId('export-csv').click();
    const csv = readFileSync((await (await download).path())!, 'utf8');
    expect(csv.split('\r\n')[0]).toBe('at,user,action,service,modelVersion,outcome,detail');
    expect(csv).toContain('addUser');
    expect(csv).toContain('disableUser');
    expect(csv).toContain('setRole');
    // the one-time password and the chosen ones are nowhere in the trail
    for (const secret of [otp, CHOSEN, CHANGED]) expect(csv).not.toContain(secret);
    await admin.context().close();
  }, 120_000);
});
