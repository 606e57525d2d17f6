import { decode } from 'jpeg-js';
import { MedclassError } from '../errors.ts';
import { samplesToGrey, type GreyImage } from './grey.ts';
import type { ImageDecoder } from './decoder.ts';

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** The first start-of-frame: size and number of components (1 for a grey JPEG). */
function frameHeader(bytes: Uint8Array): { width: number; height: number; components: number } {
  // Walk the marker segments to the first start-of-frame, which holds the size.
  let p = 2;
  while (p + 9 < bytes.length) {
    if (bytes[p] !== 0xff) break;
    const marker = bytes[p + 1]!;
    const length = (bytes[p + 2]! << 8) | bytes[p + 3]!;
    if (SOF_MARKERS.has(marker)) {
      return { height: (bytes[p + 5]! << 8) | bytes[p + 6]!, width: (bytes[p + 7]! << 8) | bytes[p + 8]!, components: bytes[p + 9]! };
    }
    p += 2 + length;
  }
  throw new MedclassError('corruptImage', 'JPEG has no frame header (SOF) giving its size');
}

export const jpegDecoder: ImageDecoder = {
  format: 'jpeg',
  matches: (bytes) => bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff,
  dimensions(bytes) {
    const { width, height } = frameHeader(bytes);
    return { width, height };
  },
  decode(bytes, limits): GreyImage {
    try {
      const jpeg = decode(bytes, {
        useTArray: true,
        formatAsRGBA: false,
        maxResolutionInMP: limits.maxPixels / 1e6,
        maxMemoryUsageInMB: Math.ceil((limits.maxPixels * 8) / 2 ** 20),
      });
      // jpeg-js gives a grey JPEG as R = G = B: it stays a grey image
      return samplesToGrey(jpeg.data, jpeg.width, jpeg.height, 3, 255, frameHeader(bytes).components >= 3);
    } catch (e) {
      throw new MedclassError('corruptImage', `JPEG could not be decoded: ${(e as Error).message}`);
    }
  },
};
