import { MedclassError } from '../errors.ts';
import { formatCount } from '../format.ts';
import { crc32 } from './crc32.ts';
import type { GreyArena } from './grey_arena.ts';
import type { GreyImage } from './grey.ts';
import type { ImageDecoder } from './decoder.ts';
import { inflateBounded } from './inflate.ts';
import type { DecodeLimits } from './limits.ts';

/**
 * PNG to grey (docs/features.md section 1), bounded by what the header declares: IHDR must
 * be the first chunk and the only one, its size is checked against the limits before any
 * work, and the image data is inflated into exactly `height * (rowBytes + 1)` bytes (per
 * Adam7 pass when interlaced): a stream that inflates to more is refused at that point.
 * fast-png inflates the whole stream, and iCCP profiles, without a bound, so the chunks, the
 * inflation and the unfiltering are done here; ancillary chunks are skipped, not inflated.
 */

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const corrupt = (message: string) => new MedclassError('corruptImage', `PNG ${message}`);

interface Header {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlaced: boolean;
  channels: number;
}

/** Bit depths allowed for each colour type (PNG 11.2.2), and its samples per pixel. */
const COLOUR_TYPES: Record<number, { depths: number[]; channels: number }> = {
  0: { depths: [1, 2, 4, 8, 16], channels: 1 },
  2: { depths: [8, 16], channels: 3 },
  3: { depths: [1, 2, 4, 8], channels: 1 },
  4: { depths: [8, 16], channels: 2 },
  6: { depths: [8, 16], channels: 4 },
};

const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

const u32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const typeAt = (b: Uint8Array, o: number) => String.fromCharCode(b[o]!, b[o + 1]!, b[o + 2]!, b[o + 3]!);
const printable = (t: string) => (/^[A-Za-z]{4}$/.test(t) ? t : JSON.stringify(t));

function hasSignature(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((v, i) => bytes[i] === v);
}

/** The header, from the first chunk, which must be IHDR (a size read from anything else could hide the real one). */
function readHeader(bytes: Uint8Array): Header {
  if (bytes.length < 33) throw corrupt('file is truncated before the end of its header (IHDR)');
  const type = typeAt(bytes, 12);
  if (type !== 'IHDR') throw corrupt(`file's first chunk is ${printable(type)}; it must be IHDR (the header)`);
  if (u32(bytes, 8) !== 13) throw corrupt(`header (IHDR) is ${u32(bytes, 8)} bytes long; it must be 13`);
  if (crc32(bytes, 12, 29) !== u32(bytes, 29)) throw corrupt('header (IHDR) is damaged (its CRC does not match)');
  const width = u32(bytes, 16);
  const height = u32(bytes, 20);
  const depth = bytes[24]!;
  const colorType = bytes[25]!;
  const kind = COLOUR_TYPES[colorType];
  if (!kind) throw corrupt(`colour type ${colorType} does not exist`);
  if (!kind.depths.includes(depth)) throw corrupt(`bit depth ${depth} is not allowed with colour type ${colorType}`);
  if (bytes[26] !== 0) throw corrupt(`compression method ${bytes[26]} is not supported`);
  if (bytes[27] !== 0) throw corrupt(`filter method ${bytes[27]} is not supported`);
  if (bytes[28]! > 1) throw corrupt(`interlace method ${bytes[28]} is not supported`);
  return { width, height, depth, colorType, interlaced: bytes[28] === 1, channels: kind.channels };
}

const rowBytes = (h: Header, width: number) => Math.ceil((width * h.channels * h.depth) / 8);

/** The passes (one, or Adam7's seven) as [x0, y0, dx, dy, width, height]; empty ones left out. */
function passes(h: Header): [number, number, number, number, number, number][] {
  if (!h.interlaced) return [[0, 0, 1, 1, h.width, h.height]];
  return ADAM7.map(([x0, y0, dx, dy]) => [x0, y0, dx, dy, Math.ceil((h.width - x0) / dx), Math.ceil((h.height - y0) / dy)] as [number, number, number, number, number, number]).filter(
    ([, , , , w, ht]) => w > 0 && ht > 0,
  );
}

/** What the image data must inflate to, exactly: a filter byte and the samples for each row of each pass. */
export function pngInflatedSize(h: Header): number {
  return passes(h).reduce((n, [, , , , w, ht]) => n + ht * (rowBytes(h, w) + 1), 0);
}

/** Walks the chunks after IHDR: the palette, the image data, IEND; each chunk's CRC checked, a second IHDR refused. */
function readChunks(bytes: Uint8Array, h: Header): { palette: Uint8Array | null; data: Uint8Array[] } {
  let palette: Uint8Array | null = null;
  const data: Uint8Array[] = [];
  let p = 33;
  for (;;) {
    if (p + 12 > bytes.length) throw corrupt('file is truncated: it ends before its IEND chunk');
    const length = u32(bytes, p);
    const type = typeAt(bytes, p + 4);
    if (length > 0x7fffffff || p + 12 + length > bytes.length) {
      throw corrupt(`file is truncated: chunk ${printable(type)} declares ${length} bytes, ${Math.max(0, bytes.length - p - 12)} present`);
    }
    if (crc32(bytes, p + 4, p + 8 + length) !== u32(bytes, p + 8 + length)) throw corrupt(`chunk ${printable(type)} is damaged (its CRC does not match)`);
    const body = bytes.subarray(p + 8, p + 8 + length);
    p += 12 + length;
    if (type === 'IEND') break;
    if (type === 'IHDR') throw corrupt('file has more than one header (IHDR): refused, as its size is ambiguous');
    if (type === 'IDAT') data.push(body);
    else if (type === 'PLTE') {
      if (palette) throw corrupt('file has more than one palette (PLTE)');
      if (data.length) throw corrupt('palette (PLTE) comes after the image data');
      if (length % 3 !== 0 || length === 0 || length / 3 > 2 ** h.depth) throw corrupt(`palette (PLTE) of ${length} bytes is not valid for ${h.depth}-bit samples`);
      palette = body;
    } else if (!(type.charCodeAt(0) & 0x20)) {
      // a critical chunk this decoder does not know: the image cannot be read correctly without it
      throw corrupt(`file has an unknown critical chunk ${printable(type)}`);
    }
  }
  if (h.colorType === 3 && !palette) throw corrupt('file uses a palette but has no PLTE chunk');
  if (data.length === 0) throw corrupt('file has no image data (IDAT)');
  return { palette, data };
}

/** Undoes the row filters of one pass in place (PNG 9.2); `start` is its first filter byte. */
function unfilter(buf: Uint8Array, start: number, rows: number, stride: number, bpp: number): void {
  for (let r = 0; r < rows; r++) {
    const o = start + r * (stride + 1);
    const filter = buf[o]!;
    const x = o + 1;
    const prior = r === 0 ? -1 : x - stride - 1;
    switch (filter) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < stride; i++) buf[x + i] = buf[x + i]! + buf[x + i - bpp]!;
        break;
      case 2:
        if (prior >= 0) for (let i = 0; i < stride; i++) buf[x + i] = buf[x + i]! + buf[prior + i]!;
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? buf[x + i - bpp]! : 0;
          const b = prior >= 0 ? buf[prior + i]! : 0;
          buf[x + i] = buf[x + i]! + ((a + b) >> 1);
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? buf[x + i - bpp]! : 0;
          const b = prior >= 0 ? buf[prior + i]! : 0;
          const c = i >= bpp && prior >= 0 ? buf[prior + i - bpp]! : 0;
          const pa = Math.abs(b - c);
          const pb = Math.abs(a - c);
          const pc = Math.abs(a + b - 2 * c);
          buf[x + i] = buf[x + i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
        }
        break;
      default:
        throw corrupt(`row filter ${filter} does not exist`);
    }
  }
}

/**
 * One pass's rows to grey, as samplesToGrey computes it (grey samples divided by their
 * maximum; colour by BT.601 weights; alpha ignored; palette entries as 8-bit RGB). A colour
 * file's R, G, B samples also go to `rgb` (three per pixel) for the colour features.
 */
function passToGrey(
  buf: Uint8Array,
  start: number,
  h: Header,
  palette: Uint8Array | null,
  pass: [number, number, number, number, number, number],
  out: Float32Array,
  rgb: Uint16Array | null,
): void {
  const [x0, y0, dx, dy, pw, ph] = pass;
  const stride = rowBytes(h, pw);
  const { depth, channels, width } = h;
  if (depth === 8 && !palette) return pass8ToGrey(buf, start, channels, width, pass, stride, out, rgb);
  const max = depth === 16 ? 65535 : (1 << depth) - 1;
  const entries = palette ? palette.length / 3 : 0;
  for (let r = 0; r < ph; r++) {
    const row = start + r * (stride + 1) + 1;
    let o = (y0 + r * dy) * width + x0;
    for (let c = 0; c < pw; c++, o += dx) {
      if (depth < 8) {
        const bit = c * depth;
        const v = (buf[row + (bit >> 3)]! >> (8 - depth - (bit & 7))) & max;
        if (palette) {
          if (v >= entries) throw corrupt(`pixel uses palette entry ${v}, but the palette has ${entries}`);
          out[o] = (0.299 * palette[3 * v]! + 0.587 * palette[3 * v + 1]! + 0.114 * palette[3 * v + 2]!) / 255;
          rgb?.set(palette.subarray(3 * v, 3 * v + 3), 3 * o);
        } else out[o] = v / max;
      } else if (depth === 8) {
        const s = row + c * channels;
        if (palette) {
          const v = buf[s]!;
          if (v >= entries) throw corrupt(`pixel uses palette entry ${v}, but the palette has ${entries}`);
          out[o] = (0.299 * palette[3 * v]! + 0.587 * palette[3 * v + 1]! + 0.114 * palette[3 * v + 2]!) / 255;
          rgb?.set(palette.subarray(3 * v, 3 * v + 3), 3 * o);
        } else if (channels <= 2) out[o] = buf[s]! / 255;
        else {
          out[o] = (0.299 * buf[s]! + 0.587 * buf[s + 1]! + 0.114 * buf[s + 2]!) / 255;
          rgb?.set(buf.subarray(s, s + 3), 3 * o);
        }
      } else {
        const s = row + 2 * c * channels;
        const at = (k: number) => (buf[s + 2 * k]! << 8) | buf[s + 2 * k + 1]!;
        if (channels <= 2) out[o] = at(0) / 65535;
        else {
          out[o] = (0.299 * at(0) + 0.587 * at(1) + 0.114 * at(2)) / 65535;
          if (rgb) [rgb[3 * o], rgb[3 * o + 1], rgb[3 * o + 2]] = [at(0), at(1), at(2)];
        }
      }
    }
  }
}

/** v / 255 for every 8-bit sample, as float32: the same bits as the division, without one per pixel. */
const GREY8 = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/**
 * passToGrey for 8-bit grey, grey + alpha, RGB and RGBA, the usual PNGs: the same
 * arithmetic in loops without a branch per pixel.
 */
function pass8ToGrey(
  buf: Uint8Array,
  start: number,
  channels: number,
  width: number,
  [x0, y0, dx, dy, pw, ph]: [number, number, number, number, number, number],
  stride: number,
  out: Float32Array,
  rgb: Uint16Array | null,
): void {
  for (let r = 0; r < ph; r++) {
    const row = start + r * (stride + 1) + 1;
    const first = (y0 + r * dy) * width + x0;
    if (channels <= 2) {
      for (let c = 0, s = row, o = first; c < pw; c++, s += channels, o += dx) out[o] = GREY8[buf[s]!]!;
    } else {
      for (let c = 0, s = row, o = first; c < pw; c++, s += channels, o += dx) {
        const red = buf[s]!;
        const green = buf[s + 1]!;
        const blue = buf[s + 2]!;
        out[o] = (0.299 * red + 0.587 * green + 0.114 * blue) / 255;
        if (rgb) {
          rgb[3 * o] = red;
          rgb[3 * o + 1] = green;
          rgb[3 * o + 2] = blue;
        }
      }
    }
  }
}

/**
 * Decodes a PNG to grey, refusing anything beyond what its header declares and the limits
 * allow; the grey pixels go into the arena's buffers where one is given.
 */
export function decodePng(bytes: Uint8Array, limits: DecodeLimits, arena?: GreyArena): GreyImage {
  if (!hasSignature(bytes)) throw corrupt('signature is missing');
  const h = readHeader(bytes);
  if (h.width < 1 || h.height < 1) throw corrupt(`declares an empty image (${h.width}x${h.height})`);
  if (h.width * h.height > limits.maxPixels) {
    throw new MedclassError('imageTooLarge', `png declares ${h.width}x${h.height} pixels, more than the limit of ${formatCount(limits.maxPixels)}`);
  }
  const { palette, data } = readChunks(bytes, h);
  const expected = pngInflatedSize(h);
  const { out: buf, length } = inflateBounded(data, expected, {
    zlib: true,
    transient: true,
    overBudget: () =>
      new MedclassError('imageTooLarge', `PNG image data inflates to more than the ${expected} bytes its ${h.width}x${h.height} header allows: refused (decompression bomb?)`),
    corrupt: (reason) => corrupt(`image data cannot be inflated (${reason})`),
  });
  if (length !== expected) throw corrupt(`image data is truncated: it inflates to ${length} bytes, its ${h.width}x${h.height} header needs ${expected}`);
  const grey = arena ? arena.grey(h.width * h.height) : new Float32Array(h.width * h.height);
  const colour = palette !== null || h.channels >= 3;
  const rgb = colour && !limits.greyOnly ? new Uint16Array(3 * h.width * h.height) : null;
  const bpp = Math.max(1, (h.channels * h.depth) >> 3);
  let start = 0;
  for (const pass of passes(h)) {
    const stride = rowBytes(h, pass[4]);
    unfilter(buf, start, pass[5], stride, bpp);
    passToGrey(buf, start, h, palette, pass, grey, rgb);
    start += pass[5] * (stride + 1);
  }
  const image: GreyImage = { width: h.width, height: h.height, data: grey };
  return rgb ? { ...image, colour: { samples: rgb, channels: 3, maxValue: palette || h.depth === 8 ? 255 : 65535 } } : image;
}

export const pngDecoder: ImageDecoder = {
  format: 'png',
  matches: hasSignature,
  dimensions(bytes) {
    const { width, height } = readHeader(bytes);
    return { width, height };
  },
  decode: decodePng,
};
