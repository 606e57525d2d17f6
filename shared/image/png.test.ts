import fc from 'fast-check';
import { convertIndexedToRgb, decode } from 'fast-png';
import { zlibSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { hiddenSizePng, ihdr, inflateBombPng, png } from '../../test/hostile_files.ts';
import { MedclassError } from '../errors.ts';
import { decodeImage } from './decoder.ts';
import { samplesToGrey } from './grey.ts';
import { inflateCounters, INFLATE_MIN_STEP, resetInflateCounters } from './inflate.ts';
import { DEFAULT_DECODE_LIMITS } from './limits.ts';
import { decodePng, pngInflatedSize } from './png.ts';
import './index.ts';

/** What the decoder gave before it was bounded: fast-png, then samplesToGrey. */
function viaFastPng(bytes: Uint8Array): Float32Array {
  const p = decode(bytes, { checkCrc: true });
  const { width, height, depth } = p;
  if (p.palette) {
    const rgb = convertIndexedToRgb(p);
    return samplesToGrey(rgb, width, height, rgb.length / (width * height), 255).data;
  }
  if (depth < 8) {
    const out = new Uint8Array(width * height);
    const perByte = 8 / depth;
    const rowBytes = Math.ceil(width / perByte);
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) out[r * width + c] = (p.data[r * rowBytes + Math.floor(c / perByte)]! >> (8 - depth * ((c % perByte) + 1))) & ((1 << depth) - 1);
    }
    return samplesToGrey(out, width, height, 1, (1 << depth) - 1).data;
  }
  return samplesToGrey(p.data, width, height, p.channels, depth === 16 ? 65535 : 255).data;
}

const COMBOS: [colorType: number, depth: number][] = [
  [0, 1], [0, 2], [0, 4], [0, 8], [0, 16], [2, 8], [2, 16], [3, 1], [3, 2], [3, 4], [3, 8], [4, 8], [4, 16], [6, 8], [6, 16],
];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

describe('PNG decoding, bounded by its header', () => {
  it('gives the same grey as fast-png for every colour type, bit depth, filter and (where fast-png reads it) Adam7', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...COMBOS),
        fc.integer({ min: 1, max: 19 }),
        fc.integer({ min: 1, max: 19 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        ([colorType, depth], width, height, interlaced, seed) => {
          // fast-png's Adam7 reads sub-byte pixels as whole bytes; those are compared at no interlace only
          const interlace = interlaced && depth >= 8 ? 1 : 0;
          const header = { width, height, depth, colorType, interlaced: interlace === 1, channels: CHANNELS[colorType]! };
          const raw = new Uint8Array(pngInflatedSize(header));
          let s = seed;
          for (let i = 0; i < raw.length; i++) raw[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
          // filter bytes 0 to 4 at each row start: rewrite them by walking the rows
          const stride = (w: number) => Math.ceil((w * header.channels * depth) / 8);
          const passes = interlace
            ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]].map(([x0, y0, dx, dy]) => [Math.ceil((width - x0!) / dx!), Math.ceil((height - y0!) / dy!)])
            : [[width, height]];
          let o = 0;
          for (const [w, h] of passes) {
            if (w! <= 0 || h! <= 0) continue;
            for (let r = 0; r < h!; r++, o += stride(w!) + 1) raw[o] = raw[o]! % 5;
          }
          const chunks: [string, Uint8Array][] = [['IHDR', ihdr(width, height, depth, colorType, interlace)]];
          if (colorType === 3) chunks.push(['PLTE', Uint8Array.from({ length: 3 * 2 ** depth }, (_, i) => (i * 37 + seed) & 255)]);
          chunks.push(['tEXt', new TextEncoder().encode('Comment\0ancillary chunks are skipped')]);
          const z = zlibSync(raw);
          chunks.push(['IDAT', z.subarray(0, z.length >> 1)], ['IDAT', z.subarray(z.length >> 1)]);
          const bytes = png(chunks);
          expect(Array.from(decodePng(bytes, DEFAULT_DECODE_LIMITS).data)).toEqual(Array.from(viaFastPng(bytes)));
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });

  it('refuses the inflate bomb (1x1 declared, 256 MiB of image data) after at most one small step past its 2 bytes', () => {
    const bomb = inflateBombPng();
    const before = process.memoryUsage().rss;
    const started = performance.now();
    resetInflateCounters();
    let error: unknown;
    try {
      decodeImage(bomb);
    } catch (e) {
      error = e;
    }
    const ms = performance.now() - started;
    expect(error).toBeInstanceOf(MedclassError);
    expect(error).toMatchObject({ code: 'imageTooLarge', message: expect.stringMatching(/inflates to more than the 2 bytes its 1x1 header allows/) });
    expect(inflateCounters.refused).toBe(1);
    // with 2 bytes of budget the steps are the smallest: at most 1032 times their size inflated
    expect(inflateCounters.bytesOut).toBeLessThanOrEqual(2 + INFLATE_MIN_STEP * 1032);
    console.log(`inflate bomb (${bomb.length} bytes, 256 MiB inflated): refused in ${ms.toFixed(1)} ms after inflating ${inflateCounters.bytesOut} bytes; RSS grew ${((process.memoryUsage().rss - before) / 2 ** 20).toFixed(1)} MiB`);
  });

  it('refuses the hidden size: a first chunk that is not IHDR, or a second IHDR, before inflating anything', () => {
    for (const twoHeaders of [false, true]) {
      const hidden = hiddenSizePng(twoHeaders);
      resetInflateCounters();
      const started = performance.now();
      expect(() => decodeImage(hidden)).toThrow(
        expect.objectContaining({ code: 'corruptImage', message: twoHeaders ? expect.stringMatching(/more than one header \(IHDR\)/) : expect.stringMatching(/first chunk is hIDE; it must be IHDR/) }),
      );
      expect(inflateCounters.calls).toBe(0);
      console.log(`hidden size (${twoHeaders ? 'two IHDRs' : 'a decoy first chunk'}, ${hidden.length} bytes, 8000x8000 behind 1x1): refused in ${(performance.now() - started).toFixed(1)} ms`);
    }
    // the real header first: refused by its size, before any work
    resetInflateCounters();
    expect(() => decodeImage(png([['IHDR', ihdr(8000, 8000)], ['IDAT', new Uint8Array(8)]]), { maxBytes: 2 ** 20, maxPixels: 25_000_000 })).toThrow(/8000x8000 pixels, more than the limit of 25,000,000/);
    expect(inflateCounters.calls).toBe(0);
  });

  it('refuses a short stream that inflates past its budget, compressed or stored, without growing a buffer for it', () => {
    const g = ihdr(4, 4);
    for (const [what, stream] of [
      ['compressed', zlibSync(new Uint8Array(60_000))],
      ['stored', zlibSync(new Uint8Array(2_000).map((_, i) => i * 7), { level: 0 })],
    ] as const) {
      resetInflateCounters();
      expect(() => decodePng(png([['IHDR', g], ['IDAT', stream]]), DEFAULT_DECODE_LIMITS), what).toThrow(/inflates to more than the 20 bytes its 4x4 header allows/);
      expect(inflateCounters.refused).toBe(1);
      // what was kept: the budget and the one byte that tells it was passed
      expect(inflateCounters.bytesOut).toBe(21);
    }
  });

  it('refuses image data shorter than the header needs, a damaged stream, bad chunk orders and colour types, each with a clear message', () => {
    const g = ihdr(4, 4);
    const data = zlibSync(new Uint8Array(20));
    expect(() => decodePng(png([['IHDR', g], ['IDAT', zlibSync(new Uint8Array(19))]]), DEFAULT_DECODE_LIMITS)).toThrow(/inflates to 19 bytes, its 4x4 header needs 20/);
    expect(() => decodePng(png([['IHDR', g], ['IDAT', Uint8Array.from([0x78, 0x9c, 0xff, 0xff])]]), DEFAULT_DECODE_LIMITS)).toThrow(/image data cannot be inflated/);
    expect(() => decodePng(png([['IHDR', g], ['IDAT', data.subarray(0, 6)]]), DEFAULT_DECODE_LIMITS)).toThrow(/truncated/);
    expect(() => decodePng(png([['IHDR', g]]), DEFAULT_DECODE_LIMITS)).toThrow(/no image data/);
    expect(() => decodePng(png([['IHDR', ihdr(4, 4, 8, 3)], ['IDAT', data]]), DEFAULT_DECODE_LIMITS)).toThrow(/no PLTE/);
    expect(() => decodePng(png([['IHDR', ihdr(4, 4, 4, 2)], ['IDAT', data]]), DEFAULT_DECODE_LIMITS)).toThrow(/bit depth 4 is not allowed with colour type 2/);
    expect(() => decodePng(png([['IHDR', g], ['IDAT', data], ['ABCD', new Uint8Array(1)]]), DEFAULT_DECODE_LIMITS)).toThrow(/unknown critical chunk ABCD/);
    expect(() => decodePng(png([['IHDR', g], ['IDAT', zlibSync(new Uint8Array(20).fill(9))]]), DEFAULT_DECODE_LIMITS)).toThrow(/row filter 9 does not exist/);
    const ok = png([['IHDR', g], ['IDAT', data]]);
    expect(() => decodePng(ok.subarray(0, ok.length - 12), DEFAULT_DECODE_LIMITS)).toThrow(/ends before its IEND/);
    expect(decodePng(ok, DEFAULT_DECODE_LIMITS)).toMatchObject({ width: 4, height: 4 });
  });
});
