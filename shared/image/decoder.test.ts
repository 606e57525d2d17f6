import { encode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { MedclassError } from '../errors.ts';
import { decodeImage } from './index.ts';

const png = (width: number, height: number, channels: number, depth: 8 | 16, data: ArrayLike<number>) =>
  encode({ width, height, channels, depth, data: depth === 16 ? Uint16Array.from(data) : Uint8Array.from(data) });

const refused = (bytes: Uint8Array, code: string, pattern: RegExp) => {
  try {
    decodeImage(bytes, { maxBytes: 1 << 20, maxPixels: 10_000 });
  } catch (e) {
    expect(e).toBeInstanceOf(MedclassError);
    expect((e as MedclassError).code).toBe(code);
    expect((e as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('not refused');
};

describe('decodeImage', () => {
  it('reads grey, RGB and RGBA PNG at 8 and 16 bits with BT.601 weights, alpha ignored', () => {
    expect(Array.from(decodeImage(png(2, 1, 1, 8, [0, 255])).data)).toEqual([0, 1]);
    expect(decodeImage(png(1, 1, 1, 16, [32768])).data[0]).toBe(Math.fround(32768 / 65535));
    const rgba = decodeImage(png(1, 1, 4, 8, [10, 200, 30, 0])).data[0];
    expect(rgba).toBe(Math.fround((0.299 * 10 + 0.587 * 200 + 0.114 * 30) / 255));
    expect(decodeImage(png(1, 1, 3, 16, [1000, 2000, 3000])).data[0]).toBe(Math.fround((0.299 * 1000 + 0.587 * 2000 + 0.114 * 3000) / 65535));
  });

  it('refuses unknown formats, truncated and corrupt files, floods and oversized files, each with a clear message', () => {
    refused(new TextEncoder().encode('hello, not an image'), 'unsupportedFormat', /not a supported image/);
    const good = png(4, 4, 1, 8, new Array(16).fill(7));
    refused(good.slice(0, 20), 'corruptImage', /truncated/);
    const flipped = good.slice();
    flipped[flipped.length - 20]! ^= 0xff;
    refused(flipped, 'corruptImage', /PNG chunk IDAT is damaged \(its CRC does not match\)/);
    // a header declaring 200 x 200 pixels is refused before any decoding
    refused(png(200, 200, 1, 8, new Uint8Array(40_000)), 'imageTooLarge', /200x200 pixels, more than the limit of 10,000/);
    refused(new Uint8Array(2 << 20).fill(0x89), 'imageTooLarge', /^file is 2.1 MB, more than the limit of 1 MB$/);
    refused(Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]), 'corruptImage', /JPEG/);
    refused(new Uint8Array(0), 'corruptImage', /^the file is empty \(0 bytes\)$/);
  });
});
