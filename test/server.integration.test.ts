import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../server/paths.ts';
import { MedclassClient } from '../shared/client/client.ts';
import { generateIdentity, parsePin, pinOf } from '../shared/protocol/identity.ts';
import { startClientSession, type ClientSession } from '../shared/protocol/session.ts';
import { decodeImage } from '../shared/image/index.ts';
import { prepareImage } from '../shared/features/extract.ts';
import { parseFeatureSpec } from '../shared/features/spec.schema.ts';
import { packFloat32 } from '../shared/protocol/messages.ts';
import { parseServerAddress } from '../server/client/server_address.ts';
import { connectWebSocket } from '../server/client/ws_transport.ts';
import { login } from './channel_login.ts';
import { dataset } from './golden.ts';
import { breastModel } from './breast_model.ts';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from './server_process.ts';
import { readFile } from 'node:fs/promises';

const exec = promisify(execFile);
const CLINICIAN_PASSWORD = 'a clinician password';

function medclass(args: string[], env: Record<string, string> = {}) {
  return exec(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), ...args], {
    env: { ...process.env, ...env },
    maxBuffer: 1 << 26,
  });
}

const TEST_IMAGES = ['0', '1'].flatMap((label) =>
  readdirSync(join(dataset('breastmnist'), 'test', label))
    .sort()
    .slice(0, 6)
    .map((f) => join(dataset('breastmnist'), 'test', label, f)),
);

let work: string;
let server: ServerProcess;
let expected: Map<string, string>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'medclass-int-'));
  const dataDir = join(work, 'data');
  const model = await breastModel();
  await medclass(['publish', model, '--data', dataDir, '--service', 'demo', '--modes', 'original,reduced,features', '--description', 'BreastMNIST']);
  await medclass(['publish', model, '--data', dataDir, '--service', 'private', '--modes', 'features']);
  await medclass(['add-user', 'nurse', '--data', dataDir, '--password-env', 'NEW_PASSWORD'], { NEW_PASSWORD: CLINICIAN_PASSWORD });
  const { stdout } = await medclass(['predict', model, ...TEST_IMAGES, '--json']);
  expected = new Map(
    stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { file: string; label: string })
      .map((r) => [r.file, r.label]),
  );
  server = await startServerProcess({ dataDir });
}, 180_000);

afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function connect(user = 'nurse', password = CLINICIAN_PASSWORD): Promise<MedclassClient> {
  const { token } = await login(server, user, password);
  const client = await MedclassClient.connect(await connectWebSocket(server.url), await parsePin(server.pin));
  await client.resume(token);
  return client;
}

async function reducedImage(file: string) {
  const img = prepareImage(decodeImage(new Uint8Array(await readFile(file))), parseFeatureSpec({ features: ['hog'], size: 0, levels: 32, orientations: 9, pixelsPerCell: 8, cellsPerBlock: 2 }));
  return { mode: 'reduced' as const, data: { width: img.width, height: img.height, pixels: packFloat32(img.data) } };
}

describe('the classification server, through its real process', () => {
  it.each(['original', 'reduced', 'features'])('classifies BreastMNIST test images in %s mode with the labels of medclass predict', async (mode) => {
    const { stdout } = await medclass(
      ['classify', '--server', server.url, '--pin', server.pin, '--user', 'nurse', '--password-env', 'PW', '--service', 'demo', '--mode', mode, '--json', ...TEST_IMAGES],
      { PW: CLINICIAN_PASSWORD },
    );
    const rows = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(TEST_IMAGES.length);
    for (const row of rows) {
      expect(row).toMatchObject({ ok: true, mode, modelVersion: 1 });
      expect(row.label).toBe(expected.get(row.file));
      expect(Object.keys(row.scores)).toEqual(['0', '1']);
      expect(row.timings).toEqual({ decryptMs: expect.any(Number), decodeMs: expect.any(Number), extractMs: expect.any(Number), classifyMs: expect.any(Number) });
      expect(row.roundTripMs).toBeGreaterThan(0);
    }
  }, 60_000);

  it('lists services for a clinician and refuses admin messages and disallowed modes', async () => {
    const client = await connect();
    const services = await client.listServices();
    expect(services.map((s) => s.name)).toEqual(['demo', 'private']);
    expect(services[0]).toMatchObject({ labels: ['0', '1'], privacyModes: ['original', 'reduced', 'features'], version: 1 });
    await expect(client.request({ type: 'rollback', requestId: 'r1', service: 'demo', version: 1 })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(client.request({ type: 'uploadStart', requestId: 'r2', uploadId: 'u1', name: 'x', totalBytes: 10, files: 1 })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(client.classify('private', [await reducedImage(TEST_IMAGES[0]!)])).rejects.toMatchObject({ code: 'modeNotAllowed' });
    await expect(client.classify('nope', [await reducedImage(TEST_IMAGES[0]!)])).rejects.toMatchObject({ code: 'unknownService' });
    // the session is still good after refusals
    const [r] = await client.classify('demo', [await reducedImage(TEST_IMAGES[0]!)]);
    expect(r).toMatchObject({ ok: true, label: expected.get(TEST_IMAGES[0]!) });
    // a wrong byte count is that image's error, not the session's: the other image is answered
    const good = await reducedImage(TEST_IMAGES[0]!);
    const short = { mode: 'reduced' as const, data: { ...good.data, pixels: good.data.pixels.subarray(4) } };
    const odd = { mode: 'features' as const, data: { vector: new Uint8Array(8 * 10 + 4) } };
    const mixed = await client.classify('demo', [short, good, odd]);
    expect(mixed.map((m) => (m.ok ? 'ok' : m.code))).toEqual(['badImage', 'ok', 'badImage']);
    expect(mixed[0]).toMatchObject({ message: expect.stringMatching(/width x height/) });
    expect(services[0]!.inputSize).toEqual({ width: good.data.width, height: good.data.height });
    client.close();
  });

  it('lets an admin roll back, and refuses wrong passwords and unauthenticated requests', async () => {
    const admin = await connect('admin', ADMIN_PASSWORD);
    await expect(admin.request({ type: 'rollback', requestId: 'r3', service: 'demo', version: 1 })).resolves.toMatchObject({ type: 'ok' });
    await expect(admin.request({ type: 'rollback', requestId: 'r4', service: 'demo', version: 9 })).rejects.toMatchObject({ code: 'notFound' });
    admin.close();
    await expect(login(server, 'nurse', 'not the password')).rejects.toThrow(/wrong user name or password/);
    const anonymous = await MedclassClient.connect(await connectWebSocket(server.url), await parsePin(server.pin));
    await expect(anonymous.listServices()).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(anonymous.resume('forged-token')).rejects.toMatchObject({ code: 'badToken' });
    anonymous.close();
  });

  it('refuses a server whose key is not the pinned one', async () => {
    const other = await pinOf(await generateIdentity());
    await expect(MedclassClient.connect(await connectWebSocket(server.url), other)).rejects.toMatchObject({ code: 'pinMismatch' });
  });

  describe('frames that were replayed, reordered or tampered with', () => {
    /** A raw channel: the real handshake over a plain WebSocket, frames sent by hand. */
    async function rawChannel(): Promise<{ ws: WebSocket; session: ClientSession; closed: Promise<number>; replies: Uint8Array[] }> {
      const ws = new WebSocket(parseServerAddress(server.url).websocket.href);
      await new Promise((r) => ws.once('open', r));
      const start = await startClientSession(await parsePin(server.pin));
      const reply = new Promise<Uint8Array>((r) => ws.once('message', (d: Buffer) => r(new Uint8Array(d))));
      ws.send(start.hello);
      const session = await start.finish(await reply);
      const replies: Uint8Array[] = [];
      ws.on('message', (d: Buffer) => replies.push(new Uint8Array(d)));
      const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      return { ws, session, closed, replies };
    }

    it.each([
      ['replayed', 4012, async (s: ClientSession) => {
        const f = await s.seal({ type: 'listServices' });
        return [f, f];
      }],
      ['reordered', 4013, async (s: ClientSession) => {
        const a = await s.seal({ type: 'listServices' });
        const b = await s.seal({ type: 'listServices' });
        return [b, a];
      }],
      ['tampered', 4014, async (s: ClientSession) => {
        const f = await s.seal({ type: 'listServices' });
        f[f.length - 20]! ^= 0x01;
        return [f];
      }],
      ['truncated', 4011, async (s: ClientSession) => [(await s.seal({ type: 'listServices' })).slice(0, 30)]],
    ] as const)('closes the session on a %s frame (code %i) while serving another client', async (_name, code, frames) => {
      const bystander = await connect();
      const { ws, session, closed } = await rawChannel();
      for (const f of await frames(session)) ws.send(f);
      expect(await closed).toBe(code);
      const [r] = await bystander.classify('demo', [await reducedImage(TEST_IMAGES[1]!)]);
      expect(r).toMatchObject({ ok: true, label: expected.get(TEST_IMAGES[1]!) });
      bystander.close();
    });
  });

  it('refuses a WebSocket from a foreign origin', async () => {
    const ws = new WebSocket(parseServerAddress(server.url).websocket.href, { origin: 'https://evil.example' });
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)).once('open', () => resolve(101)));
    expect(status).toBe(403);
  });
});
