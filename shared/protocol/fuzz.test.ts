/**
 * Random and mutated inputs to every parser: whatever comes in, the only error is a
 * ProtocolError, and nothing hangs. A seeded PRNG makes failures repeatable (the seed and
 * iteration are in the assertion message). fast-check would shrink failures; not installed yet.
 */
import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../classify/prng.ts';
import { toBase64url } from './bytes.ts';
import { ProtocolError } from './errors.ts';
import { ClientHandshake, acceptClientHello } from './handshake.ts';
import { createPin, formatPin, generateIdentity, importIdentity, parsePin, pinOf } from './identity.ts';
import { decodeMessage, encodeMessage, packFloat32, type Message } from './messages.ts';
import { connectedPair } from './testing.ts';

const SEED = 20240611;

function randomBytes(rng: Rng, max: number): Uint8Array {
  const out = new Uint8Array(rng.int(max + 1));
  for (let i = 0; i < out.length; i++) out[i] = rng.int(256);
  return out;
}

/** One random edit: flip a bit, set a byte, cut, extend, duplicate a run, swap two bytes. */
function mutate(rng: Rng, input: Uint8Array): Uint8Array {
  const b = input.slice();
  const at = rng.int(Math.max(1, b.length));
  switch (rng.int(7)) {
    case 0:
      if (b.length) b[at]! ^= 1 << rng.int(8);
      return b;
    case 1:
      if (b.length) b[at] = rng.int(256);
      return b;
    case 2:
      return b.subarray(0, at);
    case 3:
      return Uint8Array.of(...b, ...randomBytes(rng, 16));
    case 4: {
      const len = rng.int(16);
      return Uint8Array.of(...b.subarray(0, at), ...b.subarray(at, at + len), ...b.subarray(at));
    }
    case 5: {
      const j = rng.int(Math.max(1, b.length));
      if (b.length) [b[at], b[j]] = [b[j]!, b[at]!];
      return b;
    }
    default: {
      // small integers in length fields are where parsers go wrong
      if (b.length >= 8) new DataView(b.buffer).setUint32(rng.int(b.length - 3), [0, 1, 0xffffffff, 0x7fffffff, b.length][rng.int(5)]!);
      return b;
    }
  }
}

/** Runs a step; it may succeed, or fail with a ProtocolError, nothing else. */
async function onlyProtocolErrors(label: string, step: () => unknown): Promise<'ok' | string> {
  try {
    await step();
    return 'ok';
  } catch (e) {
    expect(e, `${label}: ${e instanceof Error ? e.stack : String(e)}`).toBeInstanceOf(ProtocolError);
    return (e as ProtocolError).code;
  }
}

const identity = await generateIdentity();
const pin = await pinOf(identity);
const seeds: Message[] = [
  { type: 'resume', requestId: 'r', token: 'abc' },
  { type: 'listServices' },
  { type: 'classify', requestId: 'r', service: 's', images: [{ mode: 'reduced', data: { width: 2, height: 2, pixels: packFloat32(Float32Array.of(1, 2, 3, 4)) } }, { mode: 'original', data: Uint8Array.of(1, 2, 3) }] },
  { type: 'uploadChunk', uploadId: 'u', seq: 3, data: Uint8Array.of(9, 9) },
  { type: 'trainDone', jobId: 'j', report: { a: [1, { b: null }], c: 'x' } },
  { type: 'result', requestId: 'r', index: 0, label: 'a', scores: { a: 1, b: 0 }, modelVersion: 2, timings: { decryptMs: 0, decodeMs: 0, extractMs: 0, classifyMs: 0 } },
];

describe('fuzz: only ProtocolError', () => {
  it('envelopes', async () => {
    const rng = createRng(SEED);
    const envelopes = seeds.map((m) => encodeMessage(m));
    const codes = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const input = i % 4 === 0 ? randomBytes(rng, 64) : mutate(rng, envelopes[rng.int(envelopes.length)]!);
      const c = await onlyProtocolErrors(`envelope seed ${SEED} #${i}`, () => decodeMessage(input, rng.int(2) ? 'client' : 'server'));
      codes.set(c, (codes.get(c) ?? 0) + 1);
    }
    expect(codes.get('badMessage')).toBeGreaterThan(100);
  });

  it('handshake messages', async () => {
    const rng = createRng(SEED + 1);
    const client = await ClientHandshake.start(pin);
    const { reply } = await acceptClientHello(client.hello, identity);
    for (let i = 0; i < 300; i++) {
      const hello = i % 3 === 0 ? randomBytes(rng, 120) : mutate(rng, client.hello);
      await onlyProtocolErrors(`ClientHello #${i}`, () => acceptClientHello(hello, identity));
      const fresh = await ClientHandshake.start(pin);
      const answer = i % 3 === 0 ? randomBytes(rng, 220) : mutate(rng, reply);
      // `reply` belongs to another hello: even an unmutated copy must fail, and only as ProtocolError
      const code = await onlyProtocolErrors(`ServerHello #${i}`, () => fresh.finish(answer));
      expect(code).not.toBe('ok');
    }
  });

  it('frames into live sessions', async () => {
    const rng = createRng(SEED + 2);
    let { client, server } = await connectedPair({ identity });
    let accepted = 0;
    for (let i = 0; i < 400; i++) {
      const frame = await client.seal(seeds[rng.int(3)] as never);
      const input = rng.int(10) === 0 ? frame : i % 5 === 0 ? randomBytes(rng, 80) : mutate(rng, frame);
      const code = await onlyProtocolErrors(`frame #${i}`, () => server.open(input));
      if (code === 'ok') accepted++;
      // a refused frame closes the session: start another
      else ({ client, server } = await connectedPair({ identity }));
    }
    expect(accepted).toBeGreaterThan(10);
  });

  it('pins and key files', async () => {
    const rng = createRng(SEED + 3);
    const text = formatPin(identity);
    const jwk = JSON.stringify(await crypto.subtle.exportKey('jwk', (await generateIdentity()).privateKey));
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', (await generateIdentity()).privateKey));
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    for (let i = 0; i < 300; i++) {
      await onlyProtocolErrors(`pin #${i}`, () => parsePin(dec.decode(mutate(rng, enc.encode(text)))));
      await onlyProtocolErrors(`createPin #${i}`, () => createPin(identity.fingerprint, mutate(rng, identity.spki)));
      await onlyProtocolErrors(`createPin b64 #${i}`, () => createPin(toBase64url(randomBytes(rng, 40)), toBase64url(randomBytes(rng, 100))));
      await onlyProtocolErrors(`jwk #${i}`, () => importIdentity(dec.decode(mutate(rng, enc.encode(jwk)))));
      await onlyProtocolErrors(`pkcs8 #${i}`, () => importIdentity(mutate(rng, pkcs8)));
    }
    for (const odd of [null, undefined, 42, [], {}, { kty: 'EC' }, { kty: 'EC', crv: 'P-256', d: 5 }]) {
      await onlyProtocolErrors(`odd ${String(odd)}`, () => importIdentity(odd as never));
      await onlyProtocolErrors(`odd pin ${String(odd)}`, () => parsePin(odd as never));
    }
  });
});
