import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { zlibSync } from 'fflate';
import { decodeImage } from '../../shared/image/index.ts';
import { crc32, setNativeCrc32 } from '../../shared/image/crc32.ts';
import { inflateCounters, resetInflateCounters, setNativeInflate } from '../../shared/image/inflate.ts';
import { DEFAULT_DECODE_LIMITS } from '../../shared/image/limits.ts';
import { ihdr, inflateBombPng, png } from '../../test/hostile_files.ts';
import { splitImages } from '../../test/golden.ts';
import { useNativeInflate } from './native_inflate.ts';

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
