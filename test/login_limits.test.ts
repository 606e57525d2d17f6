/**
 * Login floods and lockouts against a real server process behind a trusted proxy: the test
 * connects from 127.0.0.1 (trusted with MEDCLASS_TRUSTED_PROXIES) and names the client address
 * in X-Forwarded-For, as Azure's front end does (with a port, which must not count).
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LOGIN_LIMITS } from '../server/accounts/login_guard.ts';
import { connectWebSocket } from '../server/client/ws_transport.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import { queryAudit } from '../shared/client/account_api.ts';
import { ClientError, MedclassClient } from '../shared/client/client.ts';
import { parsePin, type Pin } from '../shared/protocol/identity.ts';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from './server_process.ts';

const exec = promisify(execFile);
const PASSWORD = 'a clinician password';
let work: string;
let server: ServerProcess;
let pin: Pin;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'medclass-limits-'));
  const dataDir = join(work, 'data');
  for (const user of ['nurse', 'alice']) {
    await exec(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), 'add-user', user, '--data', dataDir, '--password-env', 'NEW_PASSWORD'], {
      env: { ...process.env, NEW_PASSWORD: PASSWORD },
    });
  }
  server = await startServerProcess({ dataDir, args: ['--no-demo'], env: { MEDCLASS_TRUSTED_PROXIES: '127.0.0.1,::1', MEDCLASS_LOG_LEVEL: 'warn' } });
  pin = await parsePin(server.pin);
}, 180_000);

afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A client whose address (as the server counts it) is `address`. */
async function from(address: string): Promise<MedclassClient> {
  return MedclassClient.connect(await connectWebSocket(server.url, { 'x-forwarded-for': `${address}:${10_000 + Math.floor(Math.random() * 50_000)}` }), pin);
}

const codeOf = (e: unknown) => (e instanceof ClientError ? e.code : String(e));
const randomName = () => `u${randomBytes(6).toString('hex')}`;

describe('login limits', () => {
  it('keeps a legitimate login and handshake from another address going during a flood of 500 logins with random names', async () => {
    // the same without a flood, on this (shared, loaded) machine: what to compare with
    const b0 = performance.now();
    const calm = await from('198.51.100.21');
    const calmHandshakeMs = performance.now() - b0;
    await calm.login('nurse', PASSWORD);
    const calmLoginMs = performance.now() - b0;
    calm.close();
    const flooders = await Promise.all(Array.from({ length: 10 }, () => from('203.0.113.7')));
    const started = performance.now();
    const flood = Promise.allSettled(flooders.flatMap((c) => Array.from({ length: 50 }, () => c.login(randomName(), 'a guessed password'))));
    // a moment into the flood: another clinician connects and logs in
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    const nurse = await from('198.51.100.20');
    const handshakeMs = performance.now() - t0;
    const who = await nurse.login('nurse', PASSWORD);
    const loginMs = performance.now() - t0;
    const results = await flood;
    const floodMs = performance.now() - started;
    const codes = results.map((r) => (r.status === 'rejected' ? codeOf(r.reason) : 'ok'));
    const hashed = codes.filter((c) => c === 'badCredentials').length;
    console.log(
      `flood of 500 logins from one address: ${hashed} checked a password, ${codes.filter((c) => c === 'tooManyAttempts').length} refused before hashing, in ${floodMs.toFixed(0)} ms; ` +
        `meanwhile another address: handshake ${handshakeMs.toFixed(0)} ms, handshake + login ${loginMs.toFixed(0)} ms ` +
        `(without a flood: ${calmHandshakeMs.toFixed(0)} ms, ${calmLoginMs.toFixed(0)} ms)`,
    );
    expect(who.user).toBe('nurse');
    // the server hashed no more than one address may ask for in a minute; the rest cost no scrypt
    expect(hashed).toBeLessThanOrEqual(DEFAULT_LOGIN_LIMITS.perAddressPerMinute);
    expect(codes.filter((c) => c !== 'badCredentials' && c !== 'tooManyAttempts')).toEqual([]);
    nurse.close();
    for (const c of flooders) c.close();
  }, 120_000);

  it('leaves alice able to log in from her usual client after 1,000 failed logins for her from other addresses', async () => {
    // her usual client logged in before: it holds a device token
    const usual = await from('192.0.2.50');
    const first = await usual.login('alice', PASSWORD);
    expect(first.deviceToken).toBeTruthy();
    usual.close();

    let attempts = 0;
    const codes: string[] = [];
    for (let a = 0; a < 100; a++) {
      const c = await from(`10.66.${a >> 4}.${a & 15}`);
      const tries = await Promise.allSettled(Array.from({ length: 10 }, () => c.login('alice', `guess ${a}`)));
      attempts += tries.length;
      codes.push(...tries.map((r) => (r.status === 'rejected' ? codeOf(r.reason) : 'ok')));
      c.close();
    }
    expect(attempts).toBe(1000);
    expect(codes).not.toContain('ok');
    const guessed = codes.filter((c) => c === 'badCredentials').length;
    console.log(`1,000 attempts on alice from 100 addresses: ${guessed} checked a password, the rest refused before hashing`);
    expect(guessed).toBeLessThanOrEqual(DEFAULT_LOGIN_LIMITS.perUserUntrusted);

    // a browser she never used is refused while this goes on (untrusted clients are limited for her)...
    const stranger = await from('192.0.2.51');
    await expect(stranger.login('alice', PASSWORD)).rejects.toMatchObject({ code: 'tooManyAttempts' });
    stranger.close();
    // ...her usual client is not
    const again = await from('192.0.2.50');
    const second = await again.login('alice', PASSWORD, first.deviceToken);
    expect(second.user).toBe('alice');
    again.close();
  }, 300_000);

  it('lets one address make no more than the documented number of guesses a minute, and never stores unknown names', async () => {
    const c = await from('198.51.100.99');
    const names = Array.from({ length: 40 }, randomName);
    const codes = (await Promise.allSettled(names.map((n) => c.login(n, 'password guess')))).map((r) => (r.status === 'rejected' ? codeOf(r.reason) : 'ok'));
    expect(codes.filter((x) => x === 'badCredentials').length).toBeLessThanOrEqual(DEFAULT_LOGIN_LIMITS.perAddressPerMinute);
    expect(codes.filter((x) => x === 'tooManyAttempts').length).toBeGreaterThanOrEqual(40 - DEFAULT_LOGIN_LIMITS.perAddressPerMinute);
    c.close();

    const admin = await from('127.0.0.1');
    await admin.login('admin', ADMIN_PASSWORD);
    const logins = await queryAudit(admin, { action: 'login', limit: 1000 });
    const users = new Set(logins.entries.map((e) => e.user));
    expect(users.has('unknown')).toBe(true);
    for (const n of names) expect(users.has(n)).toBe(false);
    const whole = JSON.stringify((await queryAudit(admin, { limit: 1000 })).entries);
    for (const n of names) expect(whole).not.toContain(n);
    admin.close();
  }, 120_000);
});
