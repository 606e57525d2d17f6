import { describe, expect, it } from 'vitest';
import { getU64 } from './bytes.ts';
import { FRAME_HEADER_LENGTH, FrameOpener, FrameSealer, importSecret, resolveLimits } from './frames.ts';
import { generateIdentity, pinOf } from './identity.ts';
import type { ClientMessage } from './messages.ts';
import { acceptClientSession, startClientSession, type SessionOptions } from './session.ts';
import { connectedPair, protocolErrorCode as code } from './testing.ts';

const identity = await generateIdentity();
const pair = (options: SessionOptions = {}) => connectedPair({ ...options, identity });
const header = (frame: Uint8Array) => {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return { type: frame[1]!, direction: frame[2]!, flags: frame[3]!, epoch: view.getUint32(4), counter: getU64(view, 8), length: view.getUint32(16) };
};
const auth = (token = 'tok'): ClientMessage => ({ type: 'resume', requestId: 'r', token });

describe('frames', () => {
  it('lays out the header as documented', async () => {
    const { client, server } = await pair();
    const f = await client.seal(auth('abc'));
    expect(f[0]).toBe(3);
    expect(header(f)).toEqual({ type: 21, direction: 1, flags: 0, epoch: 0, counter: 0, length: f.length - FRAME_HEADER_LENGTH });
    const g = await server.seal({ type: 'ok', requestId: 'r' });
    expect(header(g)).toMatchObject({ type: 16, direction: 2, counter: 0 });
    expect(header(await client.seal(auth())).counter).toBe(1);
  });

  it('refuses a replayed frame, and the session stays closed', async () => {
    const { client, server } = await pair();
    const f1 = await client.seal(auth());
    const f2 = await client.seal(auth());
    await server.open(f1);
    expect(await code(server.open(f1))).toBe('replay');
    expect(server.closedWith).toBe('replay');
    expect(await code(server.open(f2))).toBe('closed');
    expect(await code(server.seal({ type: 'ok', requestId: 'r' }))).toBe('closed');
  });

  it('refuses a reordered or skipped frame', async () => {
    const { client, server } = await pair();
    const f1 = await client.seal(auth());
    const f2 = await client.seal(auth());
    expect(await code(server.open(f2))).toBe('reorder');
    expect(await code(server.open(f1))).toBe('closed');
  });

  it('refuses truncated frames', async () => {
    for (const keep of [0, 5, FRAME_HEADER_LENGTH - 1, FRAME_HEADER_LENGTH, FRAME_HEADER_LENGTH + 10, -1]) {
      const { client, server } = await pair();
      const f = await client.seal(auth());
      expect(await code(server.open(f.subarray(0, keep < 0 ? f.length + keep : keep))), `keep ${keep}`).toBe('truncated');
    }
  });

  it('refuses every flipped bit, with the code of what it hit', async () => {
    const { client } = await pair();
    const sample = await client.seal(auth('a token of some length'));
    const expected = (byte: number, bit: number): string[] => {
      if (byte === 0) return ['badFrame'];
      if (byte === 1) return ['tampered', 'badFrame']; // another type, or one out of range
      if (byte === 2) return ['badFrame'];
      if (byte === 3) return bit === 0 ? ['tampered'] : ['badFrame'];
      if (byte < 8) return ['tampered']; // epoch
      if (byte < 16) return ['reorder']; // counter: 0 with a bit set is in the future
      if (byte < 20) return ['truncated', 'badFrame', 'tooLarge']; // length
      return ['tampered'];
    };
    for (let byte = 0; byte < sample.length; byte += byte < 20 ? 1 : 7) {
      for (const bit of byte < 20 ? [0, 1, 7] : [(byte * 3) % 8]) {
        const { client: c, server: s } = await pair();
        const f = await c.seal(auth('a token of some length'));
        f[byte]! ^= 1 << bit;
        expect(expected(byte, bit), `byte ${byte} bit ${bit}`).toContain(await code(s.open(f)));
      }
    }
  });

  it('refuses a frame sent back to its sender, or into another session', async () => {
    const a = await pair();
    const [f0, f1] = [await a.client.seal(auth()), await a.client.seal(auth())];
    expect(await code(a.client.open(f0))).toBe('badFrame');
    const b = await pair();
    await b.server.open(await b.client.seal(auth())); // b's next counter is 1, as f1's
    expect(await code(b.server.open(f1))).toBe('tampered');
  });

  it('rekeys on request; old-epoch frames are refused after it', async () => {
    const { client, server } = await pair();
    client.rekey();
    const f0 = await client.seal(auth());
    expect(header(f0)).toMatchObject({ epoch: 0, flags: 1, counter: 0 });
    expect(client.sendEpoch).toBe(1);
    const f1 = await client.seal(auth());
    expect(header(f1)).toMatchObject({ epoch: 1, flags: 0, counter: 1 });
    await server.open(f0);
    expect(server.receiveEpoch).toBe(1);
    await server.open(f1);
    // an old-epoch frame renumbered to the expected counter
    const old = f0.slice();
    old[3] = 0;
    new DataView(old.buffer).setUint32(12, 2);
    expect(await code(server.open(old))).toBe('tampered');

    const again = await pair();
    again.client.rekey();
    const g0 = await again.client.seal(auth());
    await again.server.open(g0);
    expect(await code(again.server.open(g0))).toBe('replay');
  });

  it('rekeys by itself after so many frames or bytes', async () => {
    const { client, server } = await pair({ limits: { rekeyAfterFrames: 4 } });
    const epochs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const f = await client.seal(auth());
      epochs.push(header(f).epoch);
      await server.open(f);
    }
    expect(epochs).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2]);
    expect(server.receiveEpoch).toBe(2);

    const bytes = await pair({ limits: { rekeyAfterBytes: 2000 } });
    const big = auth('x'.repeat(900));
    const flags: number[] = [];
    for (let i = 0; i < 6; i++) {
      const f = await bytes.client.seal(big); // ~925 bytes: the third crosses 2000
      flags.push(header(f).flags);
      await bytes.server.open(f);
    }
    expect(flags).toEqual([0, 0, 1, 0, 0, 1]);
  });

  it('stops at the hard limits', async () => {
    // a peer that does not rekey: the receiver refuses past maxFramesPerKey
    const pin = await pinOf(identity);
    const start = await startClientSession(pin);
    const { reply, session: server } = await acceptClientSession(start.hello, identity, { limits: { maxFramesPerKey: 3 } });
    const client = await start.finish(reply);
    for (let i = 0; i < 3; i++) await server.open(await client.seal(auth()));
    expect(await code(server.open(await client.seal(auth())))).toBe('keyExhausted');

    // a sender that may not rekey in time refuses too
    const stuck = await pair({ limits: { maxFramesPerKey: 2 } });
    await stuck.client.seal(auth());
    await stuck.client.seal(auth());
    expect(await code(stuck.client.seal(auth()))).toBe('keyExhausted');
    expect(stuck.client.closedWith).toBe('keyExhausted');

    // the counter's limit holds across rekeys
    const counted = await pair({ limits: { maxCounter: 5, rekeyAfterFrames: 2 } });
    for (let i = 0; i < 5; i++) await counted.server.open(await counted.client.seal(auth()));
    expect(await code(counted.client.seal(auth()))).toBe('keyExhausted');
  });

  it('refuses messages above the size limit', async () => {
    const small = await pair({ limits: { maxMessageBytes: 1000 } });
    expect(await code(small.client.seal(auth('x'.repeat(1000))))).toBe('tooLarge');
    expect(small.client.closedWith).toBeNull(); // the sender only refuses that message
    await small.server.open(await small.client.seal(auth()));

    const pin = await pinOf(identity);
    const start = await startClientSession(pin);
    const { reply, session: server } = await acceptClientSession(start.hello, identity, { limits: { maxMessageBytes: 1000 } });
    const client = await start.finish(reply);
    expect(await code(server.open(await client.seal(auth('x'.repeat(1000)))))).toBe('tooLarge');
    expect(server.closedWith).toBe('tooLarge');
  });

  it('never reuses a counter, even with concurrent callers and rekeys', async () => {
    const { client, server } = await pair({ limits: { rekeyAfterFrames: 16 } });
    const frames = await Promise.all(Array.from({ length: 200 }, (_, i) => client.seal(auth(`t${i}`))));
    const nonces = new Set<string>();
    frames.forEach((f, i) => {
      const h = header(f);
      expect(h.counter).toBe(i);
      expect(h.epoch).toBe(Math.floor(i / 16));
      nonces.add(`${h.epoch}/${h.counter}`);
    });
    expect(nonces.size).toBe(200);
    // concurrent opens are taken in call order too
    const opened = await Promise.all(frames.map((f) => server.open(f)));
    expect(opened.map((m) => (m.type === 'resume' ? m.token : ''))).toEqual(frames.map((_, i) => `t${i}`));
  });

  it('sealer and opener work on their own', async () => {
    const secret = await importSecret(new Uint8Array(32).fill(7));
    const sid = new Uint8Array(16);
    const limits = resolveLimits({ rekeyAfterFrames: 3 });
    const sealer = await FrameSealer.create(sid, 'c2s', secret, limits);
    const opener = await FrameOpener.create(sid, 'c2s', secret, limits);
    for (let i = 0; i < 7; i++) {
      const f = await sealer.seal(9, Uint8Array.of(i));
      const o = await opener.open(f);
      expect(o.plaintext).toEqual(Uint8Array.of(i));
      expect(o.counter).toBe(i);
    }
    expect(opener.epoch).toBe(2);
    expect(await code(sealer.seal(0, new Uint8Array(1)))).toBe('badFrame');
    expect(() => resolveLimits({ rekeyAfterFrames: 0 })).toThrow(RangeError);
    expect(resolveLimits({ maxFramesPerKey: 2 ** 40 }).maxFramesPerKey).toBe(2 ** 24); // never raised
  });
});
