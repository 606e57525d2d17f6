/**
 * Shared by test/dicom.test.ts (Node) and test/dicom.browser.test.ts (Chromium): the
 * manifest's expectations, an independent by-hand reader for uncompressed files (it reads
 * the few tags it needs itself and applies PS3.3 C.11.2.1.2.1 as docs/features.md section 1
 * says, sharing no code with shared/image/dicom), and a writer of small synthetic files.
 * No Node built-ins here.
 */
import { expect } from 'vitest';
import { concat } from '../shared/bytes.ts';
import { MedclassError } from '../shared/errors.ts';
import type { DicomInfo } from '../shared/image/dicom/index.ts';

export interface ManifestFile {
  file: string;
  bytes: number;
  modality: string | null;
  rows: number | null;
  cols: number | null;
  bits_allocated: number | null;
  bits_stored: number | null;
  pixel_representation: number | null;
  samples_per_pixel: number | null;
  photometric: string | null;
  transfer_syntax: string;
  frames: string;
  window_center: number | number[] | null;
  window_width: number | number[] | null;
  rescale: [number, number] | null;
  decode_here: string;
  warnings: string[];
}

export interface Manifest {
  files: ManifestFile[];
}

/**
 * The broken files (the manifest's reference reader fails on each for the reason named) and
 * the specific refusal expected here. Every other file must decode.
 */
export const BROKEN: Record<string, { manifestFailure: RegExp; message: RegExp }> = {
  'MR_truncated.dcm': {
    manifestFailure: /length of the pixel data .* doesn't match/,
    message: /^DICOM pixel data is truncated: 8192 bytes declared, 8130 present$/,
  },
  'JPEG2000-embedded-sequence-delimiter.dcm': {
    manifestFailure: /DecompressionBombError/,
    message: /^JPEG 2000 stream declares 3722445056x1024 pixels, but the DICOM header says 256x1024 \(Columns x Rows\)/,
  },
  'emri_small_jpeg_2k_lossless_too_short.dcm': {
    manifestFailure: /has no attribute 'PixelData'/,
    message: /^DICOM pixel data is truncated: the file ends after 10 fragment\(s\) .* without its sequence delimiter \(FFFE,E0DD\)$/,
  },
  'no_meta.dcm': {
    manifestFailure: /no attribute 'TransferSyntaxUID'/,
    message: /^not a DICOM Part 10 file: no 'DICM' at byte 128, so the file meta information .* is missing$/,
  },
};

const list = (v: number | number[] | null): number[] => (v === null ? [] : Array.isArray(v) ? v : [v]);

/** The manifest's header facts, in DicomInfo's terms. */
export function expectedInfo(m: ManifestFile): Partial<DicomInfo> {
  const uid = /\(([\d.]+)\)\s*$/.exec(m.transfer_syntax)?.[1];
  return {
    modality: m.modality,
    rows: m.rows!,
    columns: m.cols!,
    bitsAllocated: m.bits_allocated!,
    bitsStored: m.bits_stored!,
    pixelRepresentation: m.pixel_representation!,
    samplesPerPixel: m.samples_per_pixel!,
    photometricInterpretation: m.photometric!,
    numberOfFrames: Number(m.frames),
    windowCenter: list(m.window_center),
    windowWidth: list(m.window_width),
    rescale: m.rescale ? { slope: m.rescale[0], intercept: m.rescale[1] } : null,
    ...(uid ? { transferSyntaxUID: uid } : {}),
  };
}

export const pick = (info: DicomInfo, keys: Partial<DicomInfo>): Partial<DicomInfo> =>
  Object.fromEntries(Object.keys(keys).map((k) => [k, info[k as keyof DicomInfo]])) as Partial<DicomInfo>;

export const base64ToBytes = (base64: string): Uint8Array => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));

// ---------------------------------------------------------------------------------------
// The by-hand reference: explicit VR little endian only, as the uncompressed test files are.

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);

interface RawElement {
  vr: string;
  offset: number;
  length: number;
}

/** Top-level elements of an explicit VR little endian Part 10 file (file meta included), sequences skipped. */
export function walkExplicitLittleEndian(bytes: Uint8Array): Map<number, RawElement> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = (o: number, n: number) => String.fromCharCode(...bytes.subarray(o, o + n));
  if (text(128, 4) !== 'DICM') throw new Error('no DICM');
  const out = new Map<number, RawElement>();
  let p = 132;
  const skipUndefined = (start: number): number => {
    // items and nested sequences of undefined length, up to the matching sequence delimiter
    let q = start;
    let depth = 1;
    while (depth > 0) {
      const g = view.getUint16(q, true);
      const e = view.getUint16(q + 2, true);
      const len = view.getUint32(q + 4, true);
      q += 8;
      if (g === 0xfffe && e === 0xe0dd) depth--;
      else if (g === 0xfffe && e === 0xe000) {
        if (len !== 0xffffffff) q += len;
        else depth++; // an item of undefined length ends with (FFFE,E00D)
      } else if (g === 0xfffe && e === 0xe00d) depth--;
      else {
        // an element inside an item of undefined length
        q -= 8;
        const vr = text(q + 4, 2);
        let l: number;
        if (LONG_VRS.has(vr)) {
          l = view.getUint32(q + 8, true);
          q += 12;
        } else {
          l = view.getUint16(q + 6, true);
          q += 8;
        }
        if (l === 0xffffffff) q = skipUndefined(q);
        else q += l;
      }
    }
    return q;
  };
  while (p + 8 <= bytes.length) {
    const group = view.getUint16(p, true);
    const element = view.getUint16(p + 2, true);
    const vr = text(p + 4, 2);
    let length: number;
    let offset: number;
    if (LONG_VRS.has(vr)) {
      length = view.getUint32(p + 8, true);
      offset = p + 12;
    } else {
      length = view.getUint16(p + 6, true);
      offset = p + 8;
    }
    out.set(((group << 16) | element) >>> 0, { vr, offset, length });
    p = length === 0xffffffff ? skipUndefined(offset) : offset + length;
  }
  return out;
}

/**
 * Grey intensities of one frame of an uncompressed monochrome file, by docs/features.md section 1
 * and PS3.3 C.11.2.1.2.1, computed here from the raw bytes and header values.
 */
export function greyByHand(bytes: Uint8Array, frame = 0): { width: number; height: number; data: Float64Array } {
  const el = walkExplicitLittleEndian(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const us = (tag: number) => view.getUint16(el.get(tag)!.offset, true);
  const str = (tag: number) => {
    const e = el.get(tag);
    return e ? String.fromCharCode(...bytes.subarray(e.offset, e.offset + e.length)).replace(/\0/g, '').trim() : undefined;
  };
  const ds = (tag: number) => {
    const s = str(tag);
    return s ? Number(s.split('\\')[0]) : undefined;
  };
  const rows = us(0x00280010);
  const cols = us(0x00280011);
  const allocated = us(0x00280100);
  const stored = us(0x00280101);
  const highBit = us(0x00280102);
  const signed = us(0x00280103) === 1;
  const photometric = str(0x00280004)!;
  const slope = ds(0x00281053) ?? 1;
  const intercept = ds(0x00281052) ?? 0;
  const c = ds(0x00281050);
  const w = ds(0x00281051);
  const pixel = el.get(0x7fe00010)!;
  const n = rows * cols;
  const start = pixel.offset + frame * n * (allocated / 8);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const word = allocated === 16 ? view.getUint16(start + 2 * i, true) : bytes[start + i]!;
    let v = (word >> (highBit + 1 - stored)) & ((1 << stored) - 1);
    if (signed && v & (1 << (stored - 1))) v -= 1 << stored;
    x[i] = v * slope + intercept;
  }
  const data = new Float64Array(n);
  if (c !== undefined && w !== undefined && w >= 1) {
    for (let i = 0; i < n; i++) {
      if (w === 1) data[i] = x[i]! > c - 0.5 ? 1 : 0;
      else if (x[i]! <= c - 0.5 - (w - 1) / 2) data[i] = 0;
      else if (x[i]! > c - 0.5 + (w - 1) / 2) data[i] = 1;
      else data[i] = (x[i]! - (c - 0.5)) / (w - 1) + 0.5;
    }
  } else {
    const min = Math.min(...x);
    const max = Math.max(...x);
    for (let i = 0; i < n; i++) data[i] = max > min ? (x[i]! - min) / (max - min) : 0;
  }
  if (photometric === 'MONOCHROME1') for (let i = 0; i < n; i++) data[i] = 1 - data[i]!;
  return { width: cols, height: rows, data };
}

/** Element-wise equality of two typed arrays (vitest's deep equality is slow on millions of values). */
export function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/** Whether `needle` (a Latin-1 string) occurs in `haystack`. */
export function containsText(haystack: Uint8Array, needle: string): boolean {
  const n = Uint8Array.from(needle, (c) => c.charCodeAt(0) & 0xff);
  if (n.length === 0) return true;
  for (let i = haystack.indexOf(n[0]!); i >= 0 && i + n.length <= haystack.length; i = haystack.indexOf(n[0]!, i + 1)) {
    let j = 1;
    while (j < n.length && haystack[i + j] === n[j]) j++;
    if (j === n.length) return true;
  }
  return false;
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

// ---------------------------------------------------------------------------------------
// Synthetic files.

export type SyntheticValue = string | number[] | Uint8Array;

export interface SyntheticElement {
  tag: number;
  vr: string;
  /** Strings (padded to even length), numbers (by VR: US, SS, UL) or raw bytes. */
  value: SyntheticValue;
}

export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const IMPLICIT_LE = '1.2.840.10008.1.2';
export const EXPLICIT_BE = '1.2.840.10008.1.2.2';
export const DEFLATED = '1.2.840.10008.1.2.1.99';

function encodeElement(el: SyntheticElement, le: boolean, ex: boolean): Uint8Array {
  let value: Uint8Array;
  if (typeof el.value === 'string') {
    const padded = el.value.length % 2 ? el.value + (el.vr === 'UI' ? '\0' : ' ') : el.value;
    value = Uint8Array.from(padded, (ch) => ch.charCodeAt(0));
  } else if (el.value instanceof Uint8Array) value = el.value;
  else {
    const size = el.vr === 'UL' || el.vr === 'SL' ? 4 : 2;
    value = new Uint8Array(el.value.length * size);
    const dv = new DataView(value.buffer);
    el.value.forEach((v, i) => (size === 4 ? dv.setUint32(i * size, v >>> 0, le) : dv.setUint16(i * size, v & 0xffff, le)));
  }
  const head = new DataView(new ArrayBuffer(12));
  head.setUint16(0, el.tag >>> 16, le);
  head.setUint16(2, el.tag & 0xffff, le);
  let headLength: number;
  if (!ex) {
    head.setUint32(4, value.length, le);
    headLength = 8;
  } else {
    head.setUint8(4, el.vr.charCodeAt(0));
    head.setUint8(5, el.vr.charCodeAt(1));
    if (LONG_VRS.has(el.vr)) {
      head.setUint16(6, 0, le);
      head.setUint32(8, value.length, le);
      headLength = 12;
    } else {
      head.setUint16(6, value.length, le);
      headLength = 8;
    }
  }
  return concat(new Uint8Array(head.buffer, 0, headLength), value);
}

/** Elements encoded in a transfer syntax's byte order and VR rule, in ascending tag order. */
export function encodeElements(elements: SyntheticElement[], transferSyntax = EXPLICIT_LE): Uint8Array {
  const le = transferSyntax !== EXPLICIT_BE;
  const ex = transferSyntax !== IMPLICIT_LE;
  return concat(...[...elements].sort((a, b) => a.tag - b.tag).map((el) => encodeElement(el, le, ex)));
}

/** The value of a sequence (SQ) element: items of defined length. */
export function sequenceValue(items: SyntheticElement[][], transferSyntax = EXPLICIT_LE): Uint8Array {
  const le = transferSyntax !== EXPLICIT_BE;
  const parts: Uint8Array[] = [];
  for (const item of items) {
    const body = encodeElements(item, transferSyntax);
    const head = new DataView(new ArrayBuffer(8));
    head.setUint16(0, 0xfffe, le);
    head.setUint16(2, 0xe000, le);
    head.setUint32(4, body.length, le);
    parts.push(new Uint8Array(head.buffer), body);
  }
  return concat(...parts);
}

/**
 * A small Part 10 file. The data set is written in the transfer syntax's byte order and VR
 * rule; `transform` (for example a deflater) is applied to the data set bytes.
 */
export function buildDicom(
  elements: SyntheticElement[],
  transferSyntax = EXPLICIT_LE,
  transform: (dataSet: Uint8Array) => Uint8Array = (d) => d,
): Uint8Array {
  const meta = encodeElements(
    [
      { tag: 0x00020001, vr: 'OB', value: Uint8Array.of(0, 1) },
      { tag: 0x00020002, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
      { tag: 0x00020003, vr: 'UI', value: '1.2.3.4.5.6.7.8.9' },
      { tag: 0x00020010, vr: 'UI', value: transferSyntax },
    ],
    EXPLICIT_LE,
  );
  const groupLength = encodeElements([{ tag: 0x00020000, vr: 'UL', value: [meta.length] }]);
  const dataSet = transform(encodeElements(elements, transferSyntax));
  const out = new Uint8Array(132 + groupLength.length + meta.length + dataSet.length);
  out.set(Uint8Array.from('DICM', (ch) => ch.charCodeAt(0)), 128);
  out.set(groupLength, 132);
  out.set(meta, 132 + groupLength.length);
  out.set(dataSet, 132 + groupLength.length + meta.length);
  return out;
}

/** The image pixel module of a synthetic image, with its pixel data (words in the file's order). */
export function imageElements(options: {
  rows: number;
  columns: number;
  bitsAllocated?: number;
  bitsStored?: number;
  highBit?: number;
  signed?: boolean;
  samplesPerPixel?: number;
  photometric?: string;
  planar?: number;
  frames?: number;
  pixelData: Uint8Array;
  extra?: SyntheticElement[];
}): SyntheticElement[] {
  const bitsAllocated = options.bitsAllocated ?? 8;
  const bitsStored = options.bitsStored ?? bitsAllocated;
  const spp = options.samplesPerPixel ?? 1;
  const elements: SyntheticElement[] = [
    { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
    { tag: 0x00080018, vr: 'UI', value: '1.2.3.4.5.6.7.8.9' },
    { tag: 0x00080060, vr: 'CS', value: 'OT' },
    { tag: 0x00280002, vr: 'US', value: [spp] },
    { tag: 0x00280004, vr: 'CS', value: options.photometric ?? 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: [options.rows] },
    { tag: 0x00280011, vr: 'US', value: [options.columns] },
    { tag: 0x00280100, vr: 'US', value: [bitsAllocated] },
    { tag: 0x00280101, vr: 'US', value: [bitsStored] },
    { tag: 0x00280102, vr: 'US', value: [options.highBit ?? bitsStored - 1] },
    { tag: 0x00280103, vr: 'US', value: [options.signed ? 1 : 0] },
    { tag: 0x7fe00010, vr: bitsAllocated > 8 ? 'OW' : 'OB', value: options.pixelData },
    ...(options.extra ?? []),
  ];
  if (spp > 1) elements.push({ tag: 0x00280006, vr: 'US', value: [options.planar ?? 0] });
  if (options.frames !== undefined) elements.push({ tag: 0x00280008, vr: 'IS', value: String(options.frames) });
  return elements;
}

/**
 * A 1-bit (Bits Allocated 1) MONOCHROME2 file, as a segmentation mask is stored: the bits of
 * every frame packed eight to a byte, the first pixel in the least significant bit, frames
 * running on without padding (PS3.5 8.1.1). `masks` holds each frame's 0/1 values, row by row.
 */
export function oneBitDicom(
  rows: number,
  columns: number,
  masks: number[][],
  transferSyntax = EXPLICIT_LE,
  transform?: (dataSet: Uint8Array) => Uint8Array,
): Uint8Array {
  const bits = masks.flat();
  const packed = new Uint8Array(Math.ceil(bits.length / 8) + (Math.ceil(bits.length / 8) % 2)); // even length, as DICOM wants
  bits.forEach((b, i) => {
    if (b) packed[Math.floor(i / 8)]! |= 1 << i % 8;
  });
  const elements = imageElements({ rows, columns, bitsAllocated: 1, bitsStored: 1, highBit: 0, frames: masks.length, pixelData: packed });
  // packed bits travel as OW (PS3.5 8.1.1)
  return buildDicom(elements.map((e) => (e.tag === 0x7fe00010 ? { ...e, vr: 'OW' } : e)), transferSyntax, transform);
}

/** Runs `f` and returns the MedclassError it throws (or rejects with). */
export async function refusal(f: () => unknown): Promise<MedclassError> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(MedclassError);
    return e as MedclassError;
  }
  throw new Error('not refused');
}
