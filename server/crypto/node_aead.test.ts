import { afterEach, describe, expect, it } from 'vitest';
import { ProtocolError } from '../../shared/protocol/errors.ts';
import { FRAME_HEADER_LENGTH, FrameOpener, FrameSealer, frameAead, importSecret, resolveLimits, setFrameAead, webCryptoAead, type FrameAead } from '../../shared/protocol/frames.ts';
import { generateIdentity, pinOf } from '../../shared/protocol/identity.ts';
import { acceptClientSession, startClientSession } from '../../shared/protocol/session.ts';
import { nodeFrameAead } from './node_aead.ts';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 255);
const identity = await generateIdentity();

afterEach(() => setFrameAead(null));

/** A sealer and an opener of one direction, on the same secret, each with its provider. */
async function ends(sealWith: FrameAead, openWith: FrameAead, limits = resolveLimits()) {
  const sid = bytes(16, 1);
  const secret = await importSecret(bytes(32, 2));
  return {
    sealer: await FrameSealer.create(sid, 'c2s', secret, limits, sealWith),
    opener: await FrameOpener.create(sid, 'c2s', secret, limits, openWith),
  };
}

describe('node:crypto AES-GCM for frames', () => {
  it('seals the same bytes as WebCrypto, frame after frame and across rekeys', async () => {
    const limits = resolveLimits({ rekeyAfterFrames: 3 });
    const web = await ends(webCryptoAead, webCryptoAead, limits);
    const node = await ends(nodeFrameAead, nodeFrameAead, limits);
    for (const [i, n] of [0, 1, 15, 16, 17, 1000, 16_544, 70_000, 3, 0].entries()) {
      const plaintext = bytes(n, i);
      const a = await web.sealer.seal(5, plaintext);
      const b = await node.sealer.seal(5, plaintext);
      expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
      // and each opens the other's
      expect(Buffer.from((await node.opener.open(a)).plaintext).equals(Buffer.from(plaintext))).toBe(true);
      expect(Buffer.from((await web.opener.open(b)).plaintext).equals(Buffer.from(plaintext))).toBe(true);
    }
    expect(web.sealer.epoch).toBeGreaterThan(1);
    expect(node.opener.epoch).toBe(web.sealer.epoch);
  });

  it('opens into an array of its own', async () => {
    const { sealer, opener } = await ends(webCryptoAead, nodeFrameAead);
    const { plaintext } = await opener.open(await sealer.seal(5, bytes(100, 3)));
    expect(plaintext.byteOffset).toBe(0);
    expect(plaintext.buffer.byteLength).toBe(100);
  });

  it('refuses a changed ciphertext or tag, another session id (additional data) and another key', async () => {
    for (const at of [FRAME_HEADER_LENGTH, FRAME_HEADER_LENGTH + 40, -1]) {
      const { sealer, opener } = await ends(webCryptoAead, nodeFrameAead);
      const frame = await sealer.seal(5, bytes(64, 4));
      const i = at < 0 ? frame.length - 1 : at;
      frame[i] = frame[i]! ^ 1;
      expect(await opener.open(frame).catch((e: unknown) => (e as ProtocolError).code)).toBe('tampered');
    }
    const { sealer } = await ends(nodeFrameAead, nodeFrameAead);
    const frame = await sealer.seal(5, bytes(10, 1));
    const secret = await importSecret(bytes(32, 2));
    const otherSession = await FrameOpener.create(bytes(16, 5), 'c2s', secret, resolveLimits(), nodeFrameAead);
    expect(await otherSession.open(frame).catch((e: unknown) => e)).toBeInstanceOf(ProtocolError);
    expect(otherSession.failedWith).toBe('tampered');
    const otherKey = await FrameOpener.create(bytes(16, 1), 'c2s', await importSecret(bytes(32, 9)), resolveLimits(), nodeFrameAead);
    expect(await otherKey.open(frame).catch((e: unknown) => (e as ProtocolError).code)).toBe('tampered');
  });

  it('serves a whole session with the server on node:crypto and the client on WebCrypto', async () => {
    const start = await startClientSession(await pinOf(identity));
    setFrameAead(nodeFrameAead);
    expect(frameAead()).toBe(nodeFrameAead);
    const { reply, session: server } = await acceptClientSession(start.hello, identity, { limits: { rekeyAfterFrames: 2 } });
    setFrameAead(null);
    expect(frameAead()).toBe(webCryptoAead);
    const client = await start.finish(reply);
    for (let i = 0; i < 5; i++) {
      const request = { type: 'resume' as const, requestId: `r${i}`, token: `t${i}`.repeat(1000) };
      expect(await server.open(await client.seal(request))).toEqual(request);
      const answer = { type: 'ok' as const, requestId: `r${i}` };
      expect(await client.open(await server.seal(answer))).toEqual(answer);
    }
    expect(server.sendEpoch).toBeGreaterThan(1);
    expect(client.receiveEpoch).toBe(server.sendEpoch);
  });
});
