import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { deflateRawSync } from 'node:zlib';
import { zlibSync } from 'fflate';
import { decodeImage } from '../../shared/image/index.ts';
import { crc32, setNativeCrc32 } from '../../shared/image/crc32.ts';
import { InflateOverBudget, inflateCounters, resetInflateCounters, setNativeInflate } from '../../shared/image/inflate.ts';
import { DEFAULT_DECODE_LIMITS } from '../../shared/image/limits.ts';
import { ihdr, inflateBombPng, png } from '../../test/hostile_files.ts';
import { splitImages } from '../../test/golden.ts';
import { inflateOnce, keptInflater, useNativeInflate } from './native_inflate.ts';

/** What decoding gives, or the error's code and message, for comparing the two inflaters. */
function outcome(bytes: Uint8Array): unknown {
  try {
    const img = decodeImage(bytes);
    return { width: img.width, height: img.height, data: Array.from(img.data), colour: img.colour ? Array.from(img.colour.samples) : null };
  } catch (e) {
    return { code: (e as { code?: string }).code, message: (e as Error).message.replace(/\(.*\)$/, '') };
  }
}

describe('node:zlib as the bounded inflater', () => {
  afterEach(() => {
    setNativeInflate(undefined);
    setNativeCrc32(null);
  });

  it('decodes real PNGs exactly as fflate does, and refuses the same broken and oversized streams', () => {
    const g = ihdr(4, 4);
    const data = zlibSync(new Uint8Array(20));
    const wrongAdler = data.slice();
    wrongAdler[wrongAdler.length - 1]! ^= 0xff;
    const files = [
      ...[...splitImages('breastmnist', 'test', 3), ...splitImages('retinamnist', 'test', 3)].map((f) => new Uint8Array(readFileSync(f))),
      png([['IHDR', g], ['IDAT', data]]),
      png([['IHDR', g], ['IDAT', wrongAdler]]),
      png([['IHDR', g], ['IDAT', zlibSync(new Uint8Array(19))]]),
      png([['IHDR', g], ['IDAT', zlibSync(new Uint8Array(60_000))]]),
      png([['IHDR', g], ['IDAT', Uint8Array.from([0x78, 0x9c, 0xff, 0xff, 0, 0, 0, 0])]]),
      png([['IHDR', g], ['IDAT', data.subarray(0, 6)]]),
    ];
    const withFflate = files.map(outcome);
    useNativeInflate();
    const withZlib = files.map(outcome);
    withZlib.forEach((o, i) => expect((o as { code?: string }).code, `file ${i}`).toBe((withFflate[i] as { code?: string }).code));
    // the same pixels from the good ones (the wrong Adler-32 included: neither checks it)
    expect(withZlib.slice(0, -4)).toEqual(withFflate.slice(0, -4));
    expect(withZlib.slice(-4).map((o) => (o as { code: string }).code)).toEqual(['corruptImage', 'imageTooLarge', 'corruptImage', 'corruptImage']);
  });

  it('stops the inflate bomb at its budget, in bytes kept', () => {
    useNativeInflate();
    resetInflateCounters();
    expect(() => decodeImage(inflateBombPng())).toThrow(/inflates to more than the 2 bytes its 1x1 header allows/);
    expect(inflateCounters.refused).toBe(1);
    expect(inflateCounters.bytesOut).toBe(3);
  });

  it("computes node:zlib's CRC-32 as the table does, and a file damaged in one byte of its image data is refused either way", () => {
    const bytes = new Uint8Array(readFileSync(splitImages('retinamnist', 'test', 1)[0]!));
    const ranges: [number, number][] = [[0, bytes.length], [12, 29], [33, 33 + 70], [5, 100], [7, 8]];
    const table = ranges.map(([a, b]) => crc32(bytes, a, b));
    useNativeInflate();
    expect(ranges.map(([a, b]) => crc32(bytes, a, b))).toEqual(table);
    const damaged = bytes.slice();
    damaged[damaged.length - 40]! ^= 1;
    expect(() => decodeImage(damaged)).toThrow(/CRC does not match/);
  });

  it('leaves the colour samples out when asked (greyOnly), the grey pixels the same bits', () => {
    useNativeInflate();
    for (const f of [...splitImages('retinamnist', 'test', 2), ...splitImages('breastmnist', 'test', 2)]) {
      const bytes = new Uint8Array(readFileSync(f));
      const full = decodeImage(bytes);
      const grey = decodeImage(bytes, { ...DEFAULT_DECODE_LIMITS, greyOnly: true });
      expect(grey.colour).toBeUndefined();
      expect(Array.from(grey.data)).toEqual(Array.from(full.data));
    }
    expect(decodeImage(new Uint8Array(readFileSync(splitImages('retinamnist', 'test', 1)[0]!))).colour).toBeDefined();
  });
});

describe('the kept zlib context', () => {
  /** The output, or the error's kind and message. */
  function result(inflate: (raw: Uint8Array, budget: number) => Uint8Array, raw: Uint8Array, budget: number): unknown {
    try {
      return Array.from(inflate(raw, budget));
    } catch (e) {
      return e instanceof InflateOverBudget ? `over ${e.budget}` : `${(e as { code?: string }).code}: ${(e as Error).message}`;
    }
  }

  it('exists on this Node, and inflates and refuses every stream as inflateRawSync does, before and after a failure', () => {
    const kept = keptInflater();
    // undefined would mean every image goes through inflateRawSync again, silently slower
    expect(kept).toBeDefined();
    const text = new TextEncoder().encode('grey levels '.repeat(500));
    const good = new Uint8Array(deflateRawSync(text));
    const damaged = good.slice();
    damaged[3]! ^= 0x55;
    const idats = [...splitImages('breastmnist', 'test', 2), ...splitImages('retinamnist', 'test', 2)].map((f) => {
      const bytes = new Uint8Array(readFileSync(f));
      // the first IDAT's body, less its zlib header and trailer
      const at = Buffer.from(bytes).indexOf('IDAT');
      const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(at - 4);
      return bytes.slice(at + 6, at + 4 + length - 4);
    });
    const cases: [string, Uint8Array, number][] = [
      ['exact budget', good, text.length],
      ['room to spare', good, text.length + 100],
      ['one byte over', good, text.length - 1],
      ['truncated', good.subarray(0, 20), text.length],
      ['damaged', damaged, text.length],
      ['empty', new Uint8Array(0), 10],
      ['trailing bytes', Uint8Array.from([...good, 1, 2, 3]), text.length],
      ...idats.map((raw, i): [string, Uint8Array, number] => [`PNG ${i}`, raw, 64 * 1024]),
      // a second pass: every case again on a context that has failed several times since its reset
      ['again, exact budget', good, text.length],
      ['again, truncated', good.subarray(0, 20), text.length],
      ['again, room to spare', good, text.length + 100],
    ];
    const once = cases.map(([, raw, budget]) => result(inflateOnce, raw, budget));
    const reused = cases.map(([, raw, budget]) => result((r, b) => kept!(r, b, false), raw, budget));
    cases.forEach(([what], i) => expect(reused[i], what).toEqual(once[i]));
    expect(once[0]).toEqual(Array.from(text));
    expect(once.slice(2, 6)).toEqual(['over 5999', 'Z_BUF_ERROR: unexpected end of file', 'Z_DATA_ERROR: invalid code lengths set', 'Z_BUF_ERROR: unexpected end of file']);
  });

  it('hands back a view of its buffer only for transient output; a kept output survives the next inflate', () => {
    const kept = keptInflater()!;
    const a = new Uint8Array(3000).fill(7);
    const b = new Uint8Array(3000).fill(9);
    const keptOutput = kept(deflateRawSync(a), 3000, false);
    const transient = kept(deflateRawSync(a), 3000, true);
    kept(deflateRawSync(b), 3000, true);
    expect(keptOutput.every((v) => v === 7)).toBe(true);
    expect(transient.every((v) => v === 9)).toBe(true);
    expect(keptOutput.buffer.byteLength).toBe(3000);
  });
});
