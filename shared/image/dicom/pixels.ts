/**
 * From pixel samples to grey intensities, exactly as docs/features.md section 1 defines it:
 * stored values (masked to Bits Stored, sign-extended), rescale, the first window by the
 * linear function of PS3.3 C.11.2.1.2.1 (or min/max of the frame), MONOCHROME1 inverted;
 * colour to 8-bit RGB (palette through its LUTs, YBR_FULL and YBR_FULL_422 by the given
 * formulas), then BT.601 grey.
 */
import type { DataSet } from 'dicom-parser';
import { MedclassError } from '../../errors.ts';
import { samplesToGrey, type GreyImage } from '../grey.ts';
import { corrupt } from './parse.ts';

export type Photometric =
  | 'MONOCHROME1'
  | 'MONOCHROME2'
  | 'RGB'
  | 'YBR_FULL'
  | 'YBR_FULL_422'
  | 'PALETTE COLOR'
  | 'YBR_RCT'
  | 'YBR_ICT';

const PHOTOMETRICS: readonly string[] = ['MONOCHROME1', 'MONOCHROME2', 'RGB', 'YBR_FULL', 'YBR_FULL_422', 'PALETTE COLOR', 'YBR_RCT', 'YBR_ICT'];

/** The Image Pixel module (PS3.3 C.7.6.3) as read from the header. */
export interface PixelModule {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  photometricInterpretation: string;
  planarConfiguration: number;
  numberOfFrames: number;
}

export const isMonochrome = (p: string) => p === 'MONOCHROME1' || p === 'MONOCHROME2';

/** Reads the Image Pixel module; refuses objects without an image and impossible values. */
export function readPixelModule(ds: DataSet): PixelModule {
  const rows = ds.uint16('x00280010');
  const columns = ds.uint16('x00280011');
  const bitsAllocated = ds.uint16('x00280100');
  if (rows === undefined || columns === undefined || bitsAllocated === undefined) {
    const missing = [
      rows === undefined && 'Rows (0028,0010)',
      columns === undefined && 'Columns (0028,0011)',
      bitsAllocated === undefined && 'Bits Allocated (0028,0100)',
    ]
      .filter(Boolean)
      .join(', ');
    throw new MedclassError('unsupportedFormat', `DICOM object has no image: ${missing} missing`);
  }
  const samplesPerPixel = ds.uint16('x00280002') ?? 1;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const highBit = ds.uint16('x00280102') ?? bitsStored - 1;
  const pixelRepresentation = ds.uint16('x00280103') ?? 0;
  const photometricInterpretation = (ds.string('x00280004') ?? (samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2')).trim().toUpperCase();
  const planarConfiguration = ds.uint16('x00280006') ?? 0;
  const framesText = ds.string('x00280008');
  const numberOfFrames = framesText === undefined || framesText.trim() === '' ? 1 : Number(framesText.trim());
  if (!Number.isInteger(numberOfFrames) || numberOfFrames < 1) throw corrupt(`DICOM Number of Frames (0028,0008) is invalid: '${framesText}'`);
  if (rows < 1 || columns < 1) throw corrupt(`DICOM declares an empty image (${columns}x${rows})`);
  if (bitsStored < 1 || bitsStored > bitsAllocated || highBit < bitsStored - 1 || highBit >= bitsAllocated) {
    throw corrupt(`DICOM bit depths are inconsistent: Bits Allocated ${bitsAllocated}, Bits Stored ${bitsStored}, High Bit ${highBit}`);
  }
  if (pixelRepresentation !== 0 && pixelRepresentation !== 1) throw corrupt(`DICOM Pixel Representation is ${pixelRepresentation}, not 0 or 1`);
  return {
    rows,
    columns,
    samplesPerPixel,
    bitsAllocated,
    bitsStored,
    highBit,
    pixelRepresentation,
    photometricInterpretation,
    planarConfiguration,
    numberOfFrames,
  };
}

/** Refuses what this module cannot turn into grey, before any decoding. */
export function checkDecodable(px: PixelModule): void {
  const p = px.photometricInterpretation;
  if (!PHOTOMETRICS.includes(p)) {
    throw new MedclassError('unsupportedFormat', `DICOM photometric interpretation ${p} is not supported`);
  }
  if (![1, 8, 16, 32].includes(px.bitsAllocated)) {
    throw new MedclassError('unsupportedFormat', `DICOM Bits Allocated ${px.bitsAllocated} is not supported (1, 8, 16 or 32)`);
  }
  if (px.bitsAllocated === 1 && !isMonochrome(p)) {
    throw new MedclassError('unsupportedFormat', `DICOM Bits Allocated 1 is read for MONOCHROME1 and MONOCHROME2 only, not ${p}`);
  }
  const expectedSamples = isMonochrome(p) || p === 'PALETTE COLOR' ? 1 : 3;
  if (px.samplesPerPixel !== expectedSamples) {
    throw corrupt(`DICOM ${p} needs ${expectedSamples} sample(s) per pixel, but the header says ${px.samplesPerPixel}`);
  }
  if (expectedSamples === 3 && px.bitsStored > 8) {
    throw new MedclassError(
      'unsupportedFormat',
      `DICOM colour (${p}) with ${px.bitsStored} bits per sample is refused: colour must have 8 bits per sample (docs/features.md section 1)`,
    );
  }
  if (p === 'YBR_FULL_422' && px.columns % 2 !== 0) throw corrupt(`DICOM YBR_FULL_422 needs an even number of columns, not ${px.columns}`);
}

/** Bytes of one native (uncompressed) frame; for 1-bit data, rounded up (frames of packed bits need not start on a byte). */
export function nativeFrameBytes(px: PixelModule): number {
  if (px.bitsAllocated === 1) return Math.ceil((px.rows * px.columns * px.samplesPerPixel) / 8);
  const perSample = px.bitsAllocated / 8;
  const samples = px.photometricInterpretation === 'YBR_FULL_422' ? 2 : px.samplesPerPixel;
  return px.rows * px.columns * samples * perSample;
}

/** Bytes of a native Pixel Data element holding every frame (packed bits run on across 1-bit frames). */
export function nativePixelDataBytes(px: PixelModule): number {
  if (px.bitsAllocated === 1) return Math.ceil((px.rows * px.columns * px.samplesPerPixel * px.numberOfFrames) / 8);
  return nativeFrameBytes(px) * px.numberOfFrames;
}

/**
 * One frame of 1-bit pixel data (PS3.5 8.1.1): bits packed eight to a byte, the first pixel
 * in the least significant bit, frames following each other bit by bit. `swapOw` for OW
 * data of a big-endian file, whose bytes come swapped in pairs.
 */
export function unpackBits(data: Uint8Array, frame: number, count: number, swapOw: boolean): Uint8Array {
  const out = new Uint8Array(count);
  const first = frame * count;
  for (let i = 0; i < count; i++) {
    const bit = first + i;
    const byte = swapOw ? (bit >>> 3) ^ 1 : bit >>> 3;
    out[i] = (data[byte]! >>> (bit & 7)) & 1;
  }
  return out;
}

/**
 * Raw sample words of a native frame, in file order. `swapOw8`: 8-bit samples in an OW
 * element of a big-endian file, whose bytes come swapped in pairs.
 */
export function unpackNative(
  bytes: Uint8Array,
  bitsAllocated: number,
  count: number,
  littleEndian: boolean,
  swapOw8: boolean,
): Uint8Array | Uint16Array | Uint32Array {
  if (bitsAllocated === 8) {
    if (!swapOw8) return bytes.subarray(0, count);
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = bytes[i ^ 1]!;
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bitsAllocated === 16) {
    const out = new Uint16Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getUint16(2 * i, littleEndian);
    return out;
  }
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getUint32(4 * i, littleEndian);
  return out;
}

/** Stored values: the Bits Stored bits below High Bit, two's complement when signed. */
export function storedValues(
  raw: ArrayLike<number>,
  count: number,
  bitsStored: number,
  shift: number,
  signed: boolean,
): Int32Array | Float64Array {
  if (bitsStored === 32 && !signed) return Float64Array.from({ length: count }, (_, i) => raw[i]! >>> 0);
  const out = new Int32Array(count);
  if (bitsStored === 32) {
    for (let i = 0; i < count; i++) out[i] = raw[i]! | 0;
    return out;
  }
  const mask = 2 ** bitsStored - 1;
  const sign = 2 ** (bitsStored - 1);
  const range = 2 ** bitsStored;
  for (let i = 0; i < count; i++) {
    const v = Math.floor((raw[i]! >>> 0) / 2 ** shift) % (mask + 1);
    out[i] = signed && v >= sign ? v - range : v;
  }
  return out;
}

export interface VoiParameters {
  slope: number;
  intercept: number;
  /** The first window, when its width is at least 1. */
  window?: { center: number; width: number };
}

/**
 * The item of a functional group macro (PS3.3 C.7.6.16) that applies to `frame` in an
 * enhanced multi-frame object: per-frame first, then shared.
 */
function functionalGroup(ds: DataSet, frame: number, macro: string): DataSet | undefined {
  const perFrame = ds.elements['x52009230']?.items?.[frame]?.dataSet?.elements[macro]?.items?.[0]?.dataSet;
  return perFrame ?? ds.elements['x52009229']?.items?.[0]?.dataSet?.elements[macro]?.items?.[0]?.dataSet;
}

/**
 * Rescale (default 1 and 0) and the first window (w < 1 counts as absent). Enhanced
 * multi-frame objects keep them in functional groups (Pixel Value Transformation
 * (0028,9145), Frame VOI LUT (0028,9132)); those apply where the top level has none.
 */
export function readVoi(ds: DataSet, frame = 0): VoiParameters {
  const rescaleSource = ds.elements['x00281053'] || ds.elements['x00281052'] ? ds : (functionalGroup(ds, frame, 'x00289145') ?? ds);
  const windowSource = ds.elements['x00281050'] ? ds : (functionalGroup(ds, frame, 'x00289132') ?? ds);
  const slope = rescaleSource.floatString('x00281053');
  const intercept = rescaleSource.floatString('x00281052');
  const center = windowSource.floatString('x00281050', 0);
  const width = windowSource.floatString('x00281051', 0);
  const voi: VoiParameters = {
    slope: slope !== undefined && Number.isFinite(slope) ? slope : 1,
    intercept: intercept !== undefined && Number.isFinite(intercept) ? intercept : 0,
  };
  if (center !== undefined && width !== undefined && Number.isFinite(center) && Number.isFinite(width) && width >= 1) {
    voi.window = { center, width };
  }
  return voi;
}

/** Monochrome stored values to grey (docs/features.md section 1), all in double, rounded once. */
export function monochromeToGrey(
  stored: ArrayLike<number>,
  width: number,
  height: number,
  voi: VoiParameters,
  monochrome1: boolean,
): GreyImage {
  const n = width * height;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = stored[i]! * voi.slope + voi.intercept;
  const data = new Float32Array(n);
  const put = (i: number, v: number) => {
    data[i] = monochrome1 ? 1 - v : v;
  };
  if (voi.window) {
    const { center: c, width: w } = voi.window;
    if (w === 1) {
      for (let i = 0; i < n; i++) put(i, x[i]! > c - 0.5 ? 1 : 0);
    } else {
      const lo = c - 0.5 - (w - 1) / 2;
      const hi = c - 0.5 + (w - 1) / 2;
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        put(i, v <= lo ? 0 : v > hi ? 1 : (v - (c - 0.5)) / (w - 1) + 0.5);
      }
    }
  } else {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      if (x[i]! < min) min = x[i]!;
      if (x[i]! > max) max = x[i]!;
    }
    const span = max - min;
    for (let i = 0; i < n; i++) put(i, span > 0 ? (x[i]! - min) / span : 0);
  }
  return { width, height, data };
}

const clamp8 = (t: number) => {
  const v = Math.floor(t + 0.5);
  return v < 0 ? 0 : v > 255 ? 255 : v;
};
const G_CB = (0.114 * 1.772) / 0.587;
const G_CR = (0.299 * 1.402) / 0.587;

/** YBR_FULL to RGB in place (interleaved Y, Cb, Cr), by the formulas of docs/features.md section 1. */
export function ybrFullToRgb(samples: Uint8Array): Uint8Array {
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i += 3) {
    const y = samples[i]!;
    const cb = samples[i + 1]! - 128;
    const cr = samples[i + 2]! - 128;
    out[i] = clamp8(y + 1.402 * cr);
    out[i + 1] = clamp8(y - G_CB * cb - G_CR * cr);
    out[i + 2] = clamp8(y + 1.772 * cb);
  }
  return out;
}

/** Native YBR_FULL_422 (Y1 Y2 Cb Cr per pair of pixels) to interleaved YBR_FULL, chroma duplicated. */
export function expandYbr422(bytes: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let p = 0, i = 0; p < pixels; p += 2, i += 4) {
    const cb = bytes[i + 2]!;
    const cr = bytes[i + 3]!;
    out.set([bytes[i]!, cb, cr, bytes[i + 1]!, cb, cr], p * 3);
  }
  return out;
}

/** Planar (R plane, G plane, B plane) to interleaved. */
export function interleave(samples: ArrayLike<number>, pixels: number, components: number): Uint8Array {
  const out = new Uint8Array(pixels * components);
  for (let c = 0; c < components; c++) {
    for (let i = 0; i < pixels; i++) out[i * components + c] = samples[c * pixels + i]!;
  }
  return out;
}

/** Palette colour indices to 8-bit RGB through the red, green and blue LUTs (PS3.3 C.7.6.3.1.5). */
export function paletteToRgb(ds: DataSet, indices: ArrayLike<number>, pixels: number, signedIndices: boolean): Uint8Array {
  const luts = [0, 1, 2].map((k) => readLut(ds, k, signedIndices));
  const out = new Uint8Array(pixels * 3);
  for (let k = 0; k < 3; k++) {
    const { first, entries, shift } = luts[k]!;
    const last = entries.length - 1;
    for (let i = 0; i < pixels; i++) {
      let e = indices[i]! - first;
      if (e < 0) e = 0;
      else if (e > last) e = last;
      out[i * 3 + k] = entries[e]! >> shift;
    }
  }
  return out;
}

const LUT_NAMES = ['Red', 'Green', 'Blue'];

function readLut(ds: DataSet, k: number, signedIndices: boolean): { first: number; entries: Uint16Array; shift: number } {
  const descriptorKey = `x0028110${k + 1}`;
  const dataKey = `x0028120${k + 1}`;
  const name = `${LUT_NAMES[k]} Palette Color Lookup Table`;
  const descriptor = ds.elements[descriptorKey];
  const data = ds.elements[dataKey];
  if (!descriptor || descriptor.length < 6) throw corrupt(`DICOM PALETTE COLOR without its ${name} Descriptor (0028,110${k + 1})`);
  if (!data) {
    const segmented = ds.elements[`x0028122${k + 1}`];
    throw new MedclassError(
      segmented ? 'unsupportedFormat' : 'corruptImage',
      segmented
        ? `DICOM segmented palette colour LUTs (0028,122${k + 1}) are not supported`
        : `DICOM PALETTE COLOR without its ${name} Data (0028,120${k + 1})`,
    );
  }
  const count = ds.uint16(descriptorKey, 0) || 65536;
  let first = ds.uint16(descriptorKey, 1)!;
  if (signedIndices && first >= 32768) first -= 65536;
  const bits = ds.uint16(descriptorKey, 2)!;
  if (bits !== 8 && bits !== 16) throw corrupt(`DICOM ${name} Descriptor gives ${bits} bits per entry, not 8 or 16`);
  const entries = new Uint16Array(count);
  const available = Math.floor(data.length / 2);
  if (data.length === count) {
    // 8-bit entries packed one per byte (seen in OB-encoded tables)
    for (let i = 0; i < count; i++) entries[i] = ds.byteArray[data.dataOffset + i]!;
    return { first, entries, shift: 0 };
  }
  if (available < count) throw corrupt(`DICOM ${name} Data has ${available} entries, but its descriptor declares ${count}`);
  const parser = ds.byteArrayParser;
  let max = 0;
  for (let i = 0; i < count; i++) {
    entries[i] = parser.readUint16(ds.byteArray, data.dataOffset + 2 * i);
    if (entries[i]! > max) max = entries[i]!;
  }
  // 16-bit entries keep their high byte; 8-bit ones (in 16-bit words) are used as they are
  return { first, entries, shift: bits === 16 && max > 255 ? 8 : 0 };
}

/** Interleaved 8-bit RGB to grey with BT.601 weights (docs/features.md section 1). */
export const rgbToGrey = (rgb: Uint8Array, width: number, height: number): GreyImage => samplesToGrey(rgb, width, height, 3, 255);
