import { describe, expect, it } from 'vitest';
import { closeCodeFor } from './errors.ts';
import { FrameOpener, FrameSealer, importSecret, resolveLimits } from './frames.ts';
import { generateIdentity } from './identity.ts';
import { packFloat32, unpackFloat32, type ClientMessage, type ServerMessage } from './messages.ts';
import { connectedPair, protocolErrorCode as code } from './testing.ts';

const identity = await generateIdentity();
const image = Float32Array.from({ length: 64 * 64 }, (_, i) => (i % 64) / 64);

describe('SecureSession', () => {
  it('carries a whole conversation both ways', async () => {
    const { client, server } = await connectedPair({ identity });
    expect(client.id).toBe(server.id);
    expect(client.serverFingerprint).toBe(identity.fingerprint);
    const toServer: ClientMessage[] = [
      { type: 'login', requestId: 'l1', username: 'ann', password: 'a password here' },
      { type: 'listServices' },
      { type: 'classify', requestId: 'c1', service: 'breast', images: [{ mode: 'reduced', data: { width: 64, height: 64, pixels: packFloat32(image) } }] },
    ];
    const toClient: ServerMessage[] = [
      { type: 'loggedIn', requestId: 'l1', user: 'ann', role: 'admin', token: 'token-1', expiresAt: 1_800_000_000_000 },
      { type: 'services', services: [] },
      { type: 'result', requestId: 'c1', index: 0, label: 'benign', scores: { benign: 0.7, malignant: 0.3 }, modelVersion: 1, timings: { decryptMs: 0, decodeMs: 0, extractMs: 0, classifyMs: 0 } },
    ];
    for (let i = 0; i < toServer.length; i++) {
      const got = await server.open(await client.seal(toServer[i]!));
      expect(got).toEqual(toServer[i]);
      expect(await client.open(await server.seal(toClient[i]!))).toEqual(toClient[i]);
    }
    const last = await server.open(await client.seal(toServer[2]!));
    expect(last.type === 'classify' && last.images[0]!.mode === 'reduced' && unpackFloat32(last.images[0]!.data.pixels)).toEqual(image);
  });

  it('a bad outgoing message is refused without closing the session', async () => {
    const { client, server } = await connectedPair({ identity });
    expect(await code(client.seal({ type: 'resume', requestId: 'r', token: '' }))).toBe('schema');
    expect(await code(client.seal({ type: 'ok', requestId: 'r' } as never))).toBe('schema');
    expect(client.closedWith).toBeNull();
    expect(await server.open(await client.seal({ type: 'listServices' }))).toEqual({ type: 'listServices' });
  });

  it('closes on the first bad frame; close() closes too', async () => {
    const { client, server } = await connectedPair({ identity });
    const f = await client.seal({ type: 'listServices' });
    f[f.length - 1]! ^= 1;
    expect(await code(server.open(f))).toBe('tampered');
    expect(server.closedWith).toBe('tampered');
    expect(closeCodeFor('tampered')).toBe(4014);
    expect(await code(server.seal({ type: 'ok', requestId: 'r' }))).toBe('closed');
    client.close();
    expect(await code(client.seal({ type: 'listServices' }))).toBe('closed');
    expect(await code(client.open(new Uint8Array(40)))).toBe('closed');
  });

  it('measures seal + open of a 16 KiB payload', async () => {
    const N = 2000;
    const payload = new Uint8Array(16 * 1024).fill(1);
    const secret = await importSecret(crypto.getRandomValues(new Uint8Array(32)));
    const limits = resolveLimits();
    const sealer = await FrameSealer.create(new Uint8Array(16), 'c2s', secret, limits);
    const opener = await FrameOpener.create(new Uint8Array(16), 'c2s', secret, limits);
    for (let i = 0; i < 100; i++) await opener.open(await sealer.seal(5, payload));
    let t = performance.now();
    for (let i = 0; i < N; i++) await opener.open(await sealer.seal(5, payload));
    const frameUs = ((performance.now() - t) * 1000) / N;

    const { client, server } = await connectedPair({ identity });
    const message: ClientMessage = { type: 'classify', requestId: 'c', service: 's', images: [{ mode: 'reduced', data: { width: 64, height: 64, pixels: packFloat32(image) } }] };
    for (let i = 0; i < 100; i++) await server.open(await client.seal(message));
    t = performance.now();
    for (let i = 0; i < N; i++) await server.open(await client.seal(message));
    const messageUs = ((performance.now() - t) * 1000) / N;
    const size = (await client.seal(message)).length;
    console.log(
      `16 KiB frame seal+open: ${frameUs.toFixed(1)} us (${((2 * 16384) / frameUs).toFixed(0)} MB/s through AES-GCM); ` +
        `64x64 reduced classify message seal+open (validate, envelope, AEAD): ${messageUs.toFixed(1)} us, ${size} bytes on the wire`,
    );
    expect(frameUs).toBeGreaterThan(0);
  });
});
