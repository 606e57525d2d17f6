import { decode } from 'jpeg-js';
import { MedclassError } from '../errors.ts';
import { samplesToGrey, type GreyImage } from './grey.ts';
import type { ImageDecoder } from './decoder.ts';
import { isJpeg } from './signatures.ts';

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/**
 * Most scans (SOS segments) accepted. Each progressive scan may touch every block of the
 * frame while taking a few bytes (end-of-band runs), so the work of a decode is bounded by
 * scans x blocks, not by the file's size; encoders write about 10 (libjpeg's progressive
 * script), and libjpeg-turbo's tools suggest a limit of 100 for untrusted files.
 */
export const MAX_JPEG_SCANS = 100;

/**
 * Counts the frames and scans by walking the marker segments and skipping each scan's
 * entropy-coded data (0xFF is followed by 0x00 or a restart marker inside it), before
 * jpeg-js does any work: one frame only (a second could declare another size), and at most
 * MAX_JPEG_SCANS scans.
 */
export function checkJpegStructure(bytes: Uint8Array): void {
  let frames = 0;
  let scans = 0;
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) return; // jpeg-js tolerates some junk here; what follows is its to refuse
    const marker = bytes[p + 1]!;
    if (marker === 0xff) {
      p++;
      continue;
    }
    if (marker === 0xd9) return;
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      p += 2;
      continue;
    }
    const length = (bytes[p + 2]! << 8) | bytes[p + 3]!;
    if (SOF_MARKERS.has(marker) && ++frames > 1) throw new MedclassError('corruptImage', 'JPEG has more than one frame header (SOF): refused, as its size is ambiguous');
    p += 2 + length;
    if (marker !== 0xda) continue;
    if (++scans > MAX_JPEG_SCANS) throw new MedclassError('imageTooLarge', `JPEG has more than ${MAX_JPEG_SCANS} scans: refused, as decoding it would take too long`);
    while (p + 1 < bytes.length && !(bytes[p] === 0xff && bytes[p + 1] !== 0 && !(bytes[p + 1]! >= 0xd0 && bytes[p + 1]! <= 0xd7))) p++;
  }
}

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
  matches: isJpeg,
  dimensions(bytes) {
    const { width, height } = frameHeader(bytes);
    return { width, height };
  },
  decode(bytes, limits): GreyImage {
    checkJpegStructure(bytes);
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
