/** The same channel in Chromium: its WebCrypto must agree with Node's on every step. */
import { describe, expect, it } from 'vitest';
import { ProtocolError } from './errors.ts';
import { exportIdentity, formatPin, generateIdentity, importIdentity, parsePin } from './identity.ts';
import { packFloat32, unpackFloat32 } from './messages.ts';
import { acceptClientSession, startClientSession } from './session.ts';

describe('secure channel in the browser', () => {
  it('handshakes, carries a reduced image, rekeys and refuses a replay', async () => {
    const identity = await importIdentity(await exportIdentity(await generateIdentity(), 'pem'));
    const pin = await parsePin(formatPin(identity));
    const start = await startClientSession(pin, { limits: { rekeyAfterFrames: 2 } });
    const { reply, session: server } = await acceptClientSession(start.hello, identity);
    const client = await start.finish(reply);
    const pixels = Float32Array.from({ length: 4096 }, (_, i) => i / 4096);
    let last: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < 5; i++) {
      last = await client.seal({ type: 'classify', requestId: `r${i}`, service: 's', images: [{ mode: 'reduced', data: { width: 64, height: 64, pixels: packFloat32(pixels) } }] });
      const m = await server.open(last);
      expect(m.type === 'classify' && m.images[0]!.mode === 'reduced' && unpackFloat32(m.images[0]!.data.pixels)).toEqual(pixels);
    }
    expect(server.receiveEpoch).toBe(2);
    const error = await server.open(last).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('replay');
  });
});
