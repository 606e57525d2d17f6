import { convertIndexedToRgb, decode, hasPngSignature } from 'fast-png';
import { MedclassError } from '../errors.ts';
import { samplesToGrey, type GreyImage } from './grey.ts';
import type { ImageDecoder } from './decoder.ts';

/** Spreads 1, 2 or 4-bit samples to one value per element. */
function unpackSubByte(data: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const perByte = 8 / depth;
  const mask = (1 << depth) - 1;
  const bytesPerRow = Math.ceil(width / perByte);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const byte = data[r * bytesPerRow + Math.floor(c / perByte)]!;
      out[r * width + c] = (byte >> (8 - depth * ((c % perByte) + 1))) & mask;
    }
  }
  return out;
}

export const pngDecoder: ImageDecoder = {
  format: 'png',
  matches: (bytes) => hasPngSignature(bytes),
  dimensions(bytes) {
    if (bytes.length < 24) throw new MedclassError('corruptImage', 'PNG file is truncated before its header (IHDR)');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { width: view.getUint32(16), height: view.getUint32(20) };
  },
  decode(bytes): GreyImage {
    let png;
    try {
      png = decode(bytes, { checkCrc: true });
    } catch (e) {
      throw new MedclassError('corruptImage', `PNG could not be decoded: ${(e as Error).message}`);
    }
    const { width, height, depth } = png;
    if (png.palette) {
      const rgb = convertIndexedToRgb(png);
      return samplesToGrey(rgb, width, height, rgb.length / (width * height), 255);
    }
    if (depth < 8) return samplesToGrey(unpackSubByte(png.data, width, height, depth), width, height, 1, (1 << depth) - 1);
    return samplesToGrey(png.data, width, height, png.channels, depth === 16 ? 65535 : 255);
  },
};
