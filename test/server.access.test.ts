/**
 * Access ends when it should (issue 10 section 3) and version 1 is refused (section 1): a real
 * server in this process, real WebSockets, the in-channel login. Every access-ending change
 * closes each live session of that user within 5 s with its own close code
 * (shared/protocol/session_end.ts), including a change made by another process (the
 * `medclass user` command), which only the server's periodic re-check can see.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MedclassClient, type FrameTransport } from '../shared/client/client.ts';
import { randomBytes } from '../shared/protocol/bytes.ts';
import { CLIENT_HELLO_LENGTH, ClientHandshake } from '../shared/protocol/handshake.ts';
import { parsePin } from '../shared/protocol/identity.ts';
import { SESSION_END } from '../shared/protocol/session_end.ts';
import { parseServerAddress } from '../server/client/server_address.ts';
import { connectWebSocket } from '../server/client/ws_transport.ts';
import { createLogger } from '../server/log.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import { createMedclassServer, type MedclassServer } from '../server/server.ts';
import { medclass } from './webapp_fixture.ts';

const ADMIN_PASSWORD = 'an admin password for access tests';
const PASSWORD = 'a clinician password';
const END_WITHIN_MS = 5_000;

interface Running {
  server: MedclassServer;
  url: string;
  pin: string;
  dir: string;
}

async function start(options: { tokenLifetimeMs?: number } = {}): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'medclass-access-'));
  const server = await createMedclassServer({ dataDir: dir, adminPassword: ADMIN_PASSWORD, demo: false, logger: createLogger('warn'), ...options });
  const url = await server.app.listen({ port: 0, host: '127.0.0.1' });
  return { server, url, pin: server.pin, dir };
}

let main: Running;

beforeAll(async () => {
  main = await start();
  for (const name of ['nurse', 'doc', 'ward', 'night', 'cli']) await main.server.accounts.createUser(name, PASSWORD, 'clinician');
}, 60_000);

afterAll(async () => {
  await main?.server.close();
  if (main) rmSync(main.dir, { recursive: true, force: true });
});

interface Watched {
  client: MedclassClient;
  /** Resolves with the close code and reason, and when it came. */
  closed: Promise<{ code: number; reason: string; at: number }>;
}

async function open(r: Running): Promise<Watched> {
  const transport: FrameTransport = await connectWebSocket(r.url);
  const client = await MedclassClient.connect(transport, await parsePin(r.pin));
  const inner = transport.onClose;
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) => {
    transport.onClose = (code, reason) => {
      resolve({ code, reason, at: performance.now() });
      inner(code, reason);
    };
  });
  return { client, closed };
}

async function loggedIn(r: Running, user: string, password = PASSWORD): Promise<Watched & { token: string }> {
  const w = await open(r);
  const { token } = await w.client.login(user, password);
  return { ...w, token };
}

/** The session closes with the cause's code and reason within 5 s of `since`. */
async function expectEnded(w: Watched, cause: keyof typeof SESSION_END, since: number, within = END_WITHIN_MS): Promise<void> {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not closed within ${within} ms`)), within + 1_000));
  const c = await Promise.race([w.closed, timeout]);
  expect({ code: c.code, reason: c.reason }).toEqual(SESSION_END[cause]);
  const tookMs = c.at - since;
  process.stdout.write(`${cause}: closed ${tookMs.toFixed(0)} ms after the change\n`);
  expect(tookMs).toBeLessThan(within);
}

describe('the login inside the channel', () => {
  it('a failed login ends the earlier one on that connection; a second login switches user', async () => {
    const w = await loggedIn(main, 'nurse');
    await expect(w.client.listServices()).resolves.toEqual([]);
    await expect(w.client.login('nurse', 'not the password')).rejects.toMatchObject({ code: 'badCredentials' });
    await expect(w.client.listServices()).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(w.client.resume('a token the server never gave')).rejects.toMatchObject({ code: 'badToken' });
    await expect(w.client.listServices()).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(w.client.login('admin', ADMIN_PASSWORD)).resolves.toMatchObject({ user: 'admin', role: 'admin' });
    await expect(w.client.request({ type: 'rollback', requestId: 'x1', service: 'none', version: 1 })).rejects.toMatchObject({ code: 'notFound' });
    const { token } = await w.client.login('doc', PASSWORD);
    await expect(w.client.request({ type: 'rollback', requestId: 'x2', service: 'none', version: 1 })).rejects.toMatchObject({ code: 'forbidden' });
    // the token works on another connection, only inside the channel
    const other = await open(main);
    await expect(other.client.resume(token)).resolves.toMatchObject({ user: 'doc', role: 'clinician', token });
    other.client.close();
    w.client.close();
  });

  it('refuses a version 1 ClientHello with close 4002, naming version 2', async () => {
    const hello = (await ClientHandshake.start(await parsePin(main.pin))).hello;
    hello[1] = 1;
    expect(hello.length).toBe(CLIENT_HELLO_LENGTH);
    const ws = new WebSocket(parseServerAddress(main.url).websocket.href);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.send(hello);
    expect(await closed).toEqual({ code: 4002, reason: 'unsupported protocol version 1; this server speaks version 2' });
    // and garbage of the right length with version 2 is a bad handshake, not a version problem
    const ws2 = new WebSocket(parseServerAddress(main.url).websocket.href);
    await new Promise((resolve, reject) => ws2.once('open', resolve).once('error', reject));
    const closed2 = new Promise<number>((resolve) => ws2.once('close', (code) => resolve(code)));
    ws2.send(Uint8Array.of(1, 2, ...randomBytes(97)));
    expect(await closed2).toBe(4001);
  });
});

describe('access ends when it should', () => {
  it('logout ends that token everywhere (4040), not the user\'s other logins', async () => {
    const a = await loggedIn(main, 'nurse');
    const b = await open(main);
    await b.client.resume(a.token);
    const c = await loggedIn(main, 'nurse');
    const since = performance.now();
    await a.client.logout();
    await expectEnded(a, 'loggedOut', since);
    await expectEnded(b, 'loggedOut', since);
    await expect(c.client.listServices()).resolves.toEqual([]);
    const again = await open(main);
    await expect(again.client.resume(a.token)).rejects.toMatchObject({ code: 'badToken' });
    again.client.close();
    c.client.close();
  });

  it('a password change ends every session of the user (4042)', async () => {
    const [a, b] = await Promise.all([loggedIn(main, 'doc'), loggedIn(main, 'doc')]);
    const bystander = await loggedIn(main, 'ward');
    const since = performance.now();
    await main.server.accounts.changePassword('doc', 'a brand new password');
    await expectEnded(a, 'passwordChanged', since);
    await expectEnded(b, 'passwordChanged', since);
    await expect(bystander.client.listServices()).resolves.toEqual([]);
    await expect(loggedIn(main, 'doc')).rejects.toMatchObject({ code: 'badCredentials' });
    await main.server.accounts.changePassword('doc', PASSWORD);
    bystander.client.close();
  });

  it('a role change ends every session of the user (4043)', async () => {
    const a = await loggedIn(main, 'ward');
    const since = performance.now();
    await main.server.accounts.setRole('ward', 'admin');
    await expectEnded(a, 'roleChanged', since);
    await expect(loggedIn(main, 'ward').then((w) => (w.client.close(), 'ok'))).resolves.toBe('ok');
  });

  it('disabling a user ends their sessions (4044) and refuses their logins until enabled again', async () => {
    const a = await loggedIn(main, 'night');
    const since = performance.now();
    await main.server.accounts.setDisabled('night', true);
    await expectEnded(a, 'userDisabled', since);
    await expect(loggedIn(main, 'night')).rejects.toMatchObject({ code: 'disabled' });
    await main.server.accounts.setDisabled('night', false);
    const b = await loggedIn(main, 'night');
    b.client.close();
  });

  it('a change made by another process (medclass user disable) is found by the re-check within 5 s', async () => {
    const a = await loggedIn(main, 'cli');
    const ran = medclass(['user', 'disable', 'cli', '--data', main.dir]);
    await ran;
    const since = performance.now();
    await expectEnded(a, 'userDisabled', since);
    await medclass(['user', 'enable', 'cli', '--data', main.dir]);
  }, 60_000);

  it('token expiry ends the session (4041)', async () => {
    const short = await start({ tokenLifetimeMs: 3_000 });
    try {
      const a = await loggedIn(short, 'admin', ADMIN_PASSWORD);
      const expiresAt = Date.now() + 3_000;
      const c = await a.closed;
      expect({ code: c.code, reason: c.reason }).toEqual(SESSION_END.loginExpired);
      const late = Date.now() - expiresAt;
      process.stdout.write(`loginExpired: closed ${late} ms after the expiry\n`);
      expect(late).toBeLessThan(END_WITHIN_MS);
    } finally {
      await short.server.close();
      rmSync(short.dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('the service list', () => {
  it('leaves out a service whose current model this release cannot read, and lists the others', async () => {
    const model = readFileSync(join(PROJECT_ROOT, 'test', 'data', 'models', 'breast_knn_v1.json'), 'utf8');
    const newer = JSON.stringify({ ...(JSON.parse(model) as object), version: 99 });
    await main.server.store.publish({ service: 'readable', model, description: '', privacyModes: ['features'], createdBy: 'admin' });
    await main.server.store.publish({ service: 'from-a-newer-release', model: newer, description: '', privacyModes: ['features'], createdBy: 'admin' });
    const w = await loggedIn(main, 'nurse');
    expect((await w.client.listServices()).map((s) => s.name)).toEqual(['readable']);
  }, 60_000);
});

