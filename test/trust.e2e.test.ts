/**
 * Issue 10, sections 1 and 2, in a real browser and the real CLI:
 * - a byte-recording TCP relay in front of the server (what a TLS-terminating front end sees)
 *   records the CLI's `medclass classify` and the web app's whole visit: neither a password, nor
 *   a login token in any encoding, nor image bytes cross it outside the channel;
 * - a build with the pin built in (MEDCLASS_PIN, MEDCLASS_SERVER) never asks the network for it;
 * - a returning browser refuses a server restarted with another identity at the same address,
 *   tells the user with both fingerprints, and moves only when the user pastes the new pin.
 */
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import type { Browser } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../server/log.ts';
import { createMedclassServer } from '../server/server.ts';
import { prepareForService } from '../server/client/prepare.ts';
import { IDENTITY_FILE } from '../server/identity_file.ts';
import { launchChromium } from './browser.ts';
import { loggedInClient } from './channel_login.ts';
import { ADMIN_PASSWORD } from './server_process.ts';
import { CLINICIAN, medclass, SERVICE, startWebapp, testImages, type Webapp } from './webapp_fixture.ts';

const [IMAGE] = testImages(1) as [string];

interface Relay {
  url: string;
  target: number;
  /** Every byte, both ways, in order. */
  chunks: Buffer[];
  server: Server;
}

/** A plain TCP relay that records all bytes: a stand-in for the front end that ends TLS. */
function startRelay(): Promise<Relay> {
  const relay = { url: '', target: 0, chunks: [] as Buffer[] } as Relay;
  relay.server = createServer((client) => {
    const upstream = connect(relay.target, '127.0.0.1');
    client.on('data', (d: Buffer) => {
      relay.chunks.push(Buffer.from(d));
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      relay.chunks.push(Buffer.from(d));
      client.write(d);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  return new Promise((resolve) =>
    relay.server.listen(0, '127.0.0.1', () => {
      relay.url = `http://127.0.0.1:${(relay.server.address() as { port: number }).port}`;
      resolve(relay);
    }),
  );
}

/** Every way a secret could be written: as text, its bytes, base64, base64url, hex, UTF-16. */
function encodings(text: string): Buffer[] {
  const utf8 = Buffer.from(text, 'utf8');
  const out = [utf8, Buffer.from(text, 'utf16le'), Buffer.from(utf8.toString('base64')), Buffer.from(utf8.toString('base64url')), Buffer.from(utf8.toString('hex'))];
  if (/^[A-Za-z0-9_-]{40,}$/.test(text)) {
    // a base64url token: its decoded bytes too, and those in every encoding
    const raw = Buffer.from(text, 'base64url');
    out.push(raw, Buffer.from(raw.toString('base64')), Buffer.from(raw.toString('base64').replace(/=+$/, '')), Buffer.from(raw.toString('hex')), Buffer.from(raw.toString('hex').toUpperCase()));
  }
  return out;
}

/** Windows of bytes from an image that carry its content (varied bytes, not runs of one value). */
function windows(bytes: Uint8Array, from: number, size = 16, step = 24): Buffer[] {
  const out: Buffer[] = [];
  for (let o = from; o + size <= bytes.length; o += step) {
    const w = Buffer.from(bytes.subarray(o, o + size));
    if (new Set(w).size >= 10) out.push(w);
  }
  return out;
}

let relay: Relay;
let builtIn: Webapp;
let plain: Webapp;
let browser: Browser;
const tokens: string[] = [];

beforeAll(async () => {
  relay = await startRelay();
  [builtIn, plain, browser] = await Promise.all([startWebapp([IMAGE], { pinInBuildFor: relay.url }), startWebapp([IMAGE]), launchChromium()]);
  relay.target = Number(new URL(builtIn.url).port);
  // every token the server issues, to look for afterwards (a spy on the real service)
  const accounts = builtIn.server.accounts;
  const login = accounts.login.bind(accounts);
  accounts.login = async (u, p) => {
    const s = await login(u, p);
    tokens.push(s.token);
    return s;
  };
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await builtIn?.stop();
  await plain?.stop();
  relay?.server.close();
});

describe('what the front end sees', () => {
  it('the CLI: no password, token or image bytes cross the relay', async () => {
    const env = { MEDCLASS_PASSWORD: CLINICIAN.password };
    for (const mode of ['original', 'reduced', 'features']) {
      const { stdout } = await medclass(['classify', IMAGE, '--server', relay.url, '--pin', builtIn.server.pin, '--user', CLINICIAN.username, '--service', SERVICE, '--mode', mode, '--json'], env);
      expect(JSON.parse(stdout.trim())).toMatchObject({ ok: true, label: builtIn.expected.get(IMAGE.split('/').pop()!) });
    }
    expect(tokens.length).toBe(3);
  }, 180_000);

  it('the web app (pin built in): logs in, classifies and logs out through the relay, and never asks for the pin', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(new URL(r.url()).pathname));
    await page.goto(`${relay.url}/login`);
    await page.getByLabel('User name').fill(CLINICIAN.username);
    await page.getByLabel('Password').fill(CLINICIAN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/classify');
    await page.locator('[data-testid="connection"][data-status="ready"]').waitFor({ timeout: 30_000 });
    await page.getByTestId('service-select').selectOption(SERVICE);
    await page.getByTestId('files-input').setInputFiles([IMAGE]);
    await page.locator('[data-testid="result"][data-state="done"]').first().waitFor({ timeout: 60_000 });
    // a reload resumes the login inside the channel with the token kept in this tab
    await page.reload();
    await page.locator('[data-testid="connection"][data-status="ready"]').waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL('**/login');
    expect(requested.filter((p) => p === '/api/config' || p === '/config.json')).toEqual([]);
    expect(requested.some((p) => p.startsWith('/api/login') || p.startsWith('/api/logout'))).toBe(false);
    expect(tokens.length).toBe(4);
    await context.close();
  }, 180_000);

  it('the relay recorded neither password nor token (in any encoding) nor image bytes', async () => {
    const record = Buffer.concat(relay.chunks);
    process.stdout.write(`the relay recorded ${record.length} bytes\n`);
    // it saw the traffic: the WebSocket upgrade and the app's files
    expect(record.includes(Buffer.from('GET /ws HTTP/1.1'))).toBe(true);
    const secrets = [
      { what: 'the password', text: CLINICIAN.password },
      ...tokens.map((t, i) => ({ what: `token ${i}`, text: t })),
    ];
    for (const { what, text } of secrets) for (const [i, e] of encodings(text).entries()) expect(record.includes(e), `${what}, encoding ${i}`).toBe(false);
    expect(record.includes(Buffer.from(CLINICIAN.password.slice(0, 12)))).toBe(false);
    const file = new Uint8Array(readFileSync(IMAGE));
    const service = (await (async () => {
      const c = await loggedInClient({ url: builtIn.url, pin: builtIn.server.pin }, 'admin', ADMIN_PASSWORD);
      try {
        return (await c.listServices()).find((s) => s.name === SERVICE)!;
      } finally {
        c.close();
      }
    })());
    const reduced = await prepareForService(file, 'reduced', service);
    const pixels = reduced.mode === 'reduced' ? reduced.data.pixels : new Uint8Array(0);
    const checks = [...windows(file, 33), ...windows(pixels, 0, 16, 64)];
    expect(checks.length).toBeGreaterThan(10);
    for (const [i, w] of checks.entries()) expect(record.includes(w), `image window ${i}`).toBe(false);
  });
});

describe('trust on first use of the server key', () => {
  it('a returning browser refuses a server restarted with another identity at the same address, says so, and moves only on an explicit re-pin', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${plain.url}/login`);
    await page.getByLabel('User name').fill(CLINICIAN.username);
    await page.getByLabel('Password').fill(CLINICIAN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/classify');
    await page.locator('[data-testid="connection"][data-status="ready"]').waitFor({ timeout: 30_000 });
    const before = plain.server.fingerprint;

    // the same address, another identity (its data otherwise the same)
    const port = Number(new URL(plain.url).port);
    await plain.server.close();
    const dataDir = `${plain.dataDir}-restarted`;
    cpSync(plain.dataDir, dataDir, { recursive: true });
    rmSync(join(dataDir, IDENTITY_FILE));
    plain.server = await createMedclassServer({ dataDir, adminPassword: ADMIN_PASSWORD, clientDir: plain.clientDir, logger: createLogger('warn'), threads: 1, demo: false });
    await plain.server.app.listen({ port, host: '127.0.0.1' });
    expect(plain.server.fingerprint).not.toBe(before);

    // the user comes back later: a new tab of the same browser (its remembered pins), the same address
    await page.close();
    const back = await context.newPage();
    let sockets = 0;
    back.on('websocket', () => sockets++);
    await back.goto(`${plain.url}/login`);
    const logIn = async () => {
      await back.getByLabel('User name').fill(CLINICIAN.username);
      await back.getByLabel('Password').fill(CLINICIAN.password);
      await back.getByRole('button', { name: 'Log in' }).click();
    };
    await logIn();
    const warning = back.getByTestId('pin-changed');
    await expect(warning.textContent()).resolves.toMatch(/key has changed\. Nothing was sent to it/i);
    await expect(back.getByTestId('login-error').textContent()).resolves.toMatch(/could not be trusted/);
    await expect(back.getByTestId('pin-remembered').textContent()).resolves.toBe(before);
    await expect(back.getByTestId('pin-offered').textContent()).resolves.toBe(plain.server.fingerprint);
    // refused before any connection: not even a handshake was attempted
    expect(sockets).toBe(0);

    // a pin that is not the offered key changes nothing
    await back.getByLabel('New pin from your administrator').fill(builtIn.server.pin);
    await back.getByRole('button', { name: 'Trust the new key' }).click();
    await expect(back.getByTestId('repin-error').textContent()).resolves.toMatch(/not the key the server now offers/);
    await logIn();
    await back.getByTestId('repin-error').waitFor({ state: 'detached' });
    await back.getByTestId('pin-changed').waitFor();
    expect(sockets).toBe(0);

    // the explicit re-pin: the new pin, pasted; then the login goes through
    await back.getByLabel('New pin from your administrator').fill(plain.server.pin);
    await back.getByRole('button', { name: 'Trust the new key' }).click();
    await back.getByTestId('pin-changed').waitFor({ state: 'detached' });
    await logIn();
    await back.waitForURL('**/classify');
    await back.locator('[data-testid="connection"][data-status="ready"]').waitFor({ timeout: 30_000 });
    expect(sockets).toBeGreaterThan(0);
    await context.close();
    rmSync(dataDir, { recursive: true, force: true });
  }, 180_000);
});
