/**
 * DICOM Part 10 to grey intensities (docs/features.md section 1): header facts without
 * decoding, limits checked from the header before any decoding, the first frame (or a
 * chosen one) decoded by the codec its transfer syntax names.
 */
import type { DataSet, Element } from 'dicom-parser';
import { MedclassError } from '../../errors.ts';
import type { GreyImage } from '../grey.ts';
import type { ImageDecoder } from '../decoder.ts';
import { checkJpegStructure } from '../jpeg.ts';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../limits.ts';
import { checkStreamAgainstHeader, j2kHeader, jpegHeader } from './codestream.ts';
import {
  codecLoaded,
  decodeJpeg2000,
  decodeJpeg8,
  decodeJpegLossless,
  decodeJpegLs,
  loadDicomCodecs,
  type CodecFrame,
  type WasmCodec,
} from './codecs.ts';
import { decodeDct } from './jpeg_dct.ts';
import { corrupt, hasDicmPrefix, parseDicomFile, PIXEL_DATA, readMeta, syntaxName, TRANSFER_SYNTAXES, type ParsedDicom } from './parse.ts';
import {
  checkDecodable,
  expandYbr422,
  interleave,
  isMonochrome,
  monochromeToGrey,
  nativeFrameBytes,
  nativePixelDataBytes,
  paletteToRgb,
  readPixelModule,
  readVoi,
  rgbToGrey,
  storedValues,
  unpackBits,
  unpackNative,
  ybrFullToRgb,
  type PixelModule,
} from './pixels.ts';
import { decodeRle } from './rle.ts';
import { formatBytes, formatCount } from '../../format.ts';

/** Header facts for a clinician, read without decoding any pixel. */
/** The header facts shown to a clinician: the Image Pixel module and what surrounds it. */
export interface DicomInfo extends PixelModule {
  transferSyntaxUID: string;
  /** The transfer syntax in words ('unknown' when not recognised). */
  transferSyntax: string;
  /** Whether this module decodes the transfer syntax at all. */
  transferSyntaxSupported: boolean;
  sopClassUID: string | null;
  modality: string | null;
  /** Every Window Center and Width given (the first pair is the one applied). */
  windowCenter: number[];
  windowWidth: number[];
  /** Rescale Slope and Intercept; null when the file gives neither (1 and 0 apply). */
  rescale: { slope: number; intercept: number } | null;
  rescaleType: string | null;
  /** Whether the pixel data is encapsulated (compressed or fragmented). */
  encapsulated: boolean;
}

export interface DecodeDicomOptions {
  /** Zero-based frame of a multi-frame object; the first by default (docs/features.md section 1). */
  frame?: number;
  limits?: DecodeLimits;
}

const cleanString = (ds: DataSet, tag: string): string | null => {
  const v = ds.string(tag)?.replace(/\0/g, '').trim();
  return v ? v : null;
};

const numbers = (ds: DataSet, tag: string): number[] => {
  const n = ds.numStringValues(tag) ?? 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = ds.floatString(tag, i);
    if (v !== undefined && Number.isFinite(v)) out.push(v);
  }
  return out;
};

function info(parsed: ParsedDicom): DicomInfo {
  const { ds, meta } = parsed;
  const px = readPixelModule(ds);
  const slope = ds.floatString('x00281053');
  const intercept = ds.floatString('x00281052');
  const pixel = ds.elements[PIXEL_DATA];
  return {
    transferSyntaxUID: parsed.transferSyntaxUID,
    transferSyntax: syntaxName(parsed.transferSyntaxUID),
    transferSyntaxSupported: parsed.syntax !== undefined,
    sopClassUID: cleanString(ds, 'x00080016') ?? cleanString(meta, 'x00020002'),
    modality: cleanString(ds, 'x00080060'),
    ...px,
    windowCenter: numbers(ds, 'x00281050'),
    windowWidth: numbers(ds, 'x00281051'),
    rescale: slope === undefined && intercept === undefined ? null : { slope: slope ?? 1, intercept: intercept ?? 0 },
    rescaleType: cleanString(ds, 'x00281054'),
    encapsulated: pixel?.hadUndefinedLength === true,
  };
}

/** Header facts (modality, size, bit depths, photometric interpretation, frames, window, rescale, syntax). */
export function readDicomInfo(bytes: Uint8Array): DicomInfo {
  return info(parseDicomFile(bytes, { headerOnly: true, inflateCap: 0 }));
}

/** The WebAssembly codecs a file needs (empty for native, deflated, RLE, JPEG lossless and 12-bit JPEG). */
export function dicomCodecsNeeded(bytes: Uint8Array): WasmCodec[] {
  const { transferSyntaxUID } = readMeta(bytes);
  switch (TRANSFER_SYNTAXES.get(transferSyntaxUID)?.kind) {
    case 'jpeg2000':
      return ['jpeg2000'];
    case 'jpegLs':
      return ['jpegLs'];
    case 'jpeg':
      return ['jpeg8'];
    default:
      return [];
  }
}

/** Decodes a frame to grey, loading the WebAssembly codec it needs first. */
export async function decodeDicom(bytes: Uint8Array, options: DecodeDicomOptions = {}): Promise<GreyImage> {
  const codecs = hasDicmPrefix(bytes) ? dicomCodecsNeeded(bytes) : [];
  if (codecs.some((c) => !codecLoaded(c))) await loadDicomCodecs(codecs);
  return decodeDicomSync(bytes, options);
}

/** Checks everything the header alone can tell, before any pixel is decoded. */
function checkHeader(parsed: ParsedDicom, px: PixelModule, frame: number, limits: DecodeLimits): void {
  if (!parsed.syntax) {
    throw new MedclassError(
      'unsupportedFormat',
      `DICOM transfer syntax ${parsed.transferSyntaxUID} (${syntaxName(parsed.transferSyntaxUID)}) is not supported`,
    );
  }
  checkDecodable(px);
  const total = px.rows * px.columns * px.numberOfFrames;
  if (total > limits.maxPixels) {
    throw new MedclassError(
      'imageTooLarge',
      `DICOM declares ${px.numberOfFrames} frame(s) of ${px.columns}x${px.rows} pixels (${formatCount(total)} in all), ` +
        `more than the limit of ${formatCount(limits.maxPixels)}`,
    );
  }
  if (!Number.isInteger(frame) || frame < 0 || frame >= px.numberOfFrames) {
    throw new MedclassError('invalidSpec', `frame ${frame} requested, but the DICOM object has ${px.numberOfFrames} frame(s) (0 to ${px.numberOfFrames - 1})`);
  }
  const { ds } = parsed;
  if (!ds.elements[PIXEL_DATA]) {
    const float = ds.elements['x7fe00008'] ?? ds.elements['x7fe00009'];
    if (float) throw new MedclassError('unsupportedFormat', 'DICOM float pixel data is not supported');
    throw corrupt('DICOM file has no Pixel Data (7FE0,0010)');
  }
}

/** Decodes one frame to grey (synchronous; WebAssembly-coded frames need `loadDicomCodecs()` first). */
export function decodeDicomSync(bytes: Uint8Array, options: DecodeDicomOptions = {}): GreyImage {
  const limits = options.limits ?? DEFAULT_DECODE_LIMITS;
  const frame = options.frame ?? 0;
  if (bytes.length > limits.maxBytes) {
    throw new MedclassError('imageTooLarge', `file is ${formatBytes(bytes.length)}, more than the limit of ${formatBytes(limits.maxBytes)}`);
  }
  const { transferSyntaxUID } = readMeta(bytes);
  let parsed: ParsedDicom;
  let px: PixelModule;
  if (TRANSFER_SYNTAXES.get(transferSyntaxUID)?.deflated) {
    // the header first, from an inflated prefix; then the whole data set, capped by what the header declares
    const header = parseDicomFile(bytes, { headerOnly: true, inflateCap: 0 });
    px = readPixelModule(header.ds);
    checkHeader(header, px, frame, limits);
    const prefix = header.ds.elements[PIXEL_DATA]!.dataOffset;
    const cap = prefix + nativePixelDataBytes(px) + 2 ** 20;
    parsed = parseDicomFile(bytes, { headerOnly: false, inflateCap: cap });
  } else {
    parsed = parseDicomFile(bytes, { headerOnly: false, inflateCap: 0 });
    px = readPixelModule(parsed.ds);
    checkHeader(parsed, px, frame, limits);
  }
  return frameToGrey(parsed, px, frame, limits);
}

/** The transfer syntax's decoder, then the photometric interpretation, then grey. */
function frameToGrey(parsed: ParsedDicom, px: PixelModule, frame: number, limits: DecodeLimits): GreyImage {
  const { ds } = parsed;
  const syntax = parsed.syntax!;
  const element = ds.elements[PIXEL_DATA]!;
  const { rows, columns, samplesPerPixel: spp, bitsAllocated, photometricInterpretation: photometric } = px;
  const pixels = rows * columns;
  const signed = px.pixelRepresentation === 1;

  // Raw sample words, interleaved by pixel, plus how to reach stored values.
  let raw: ArrayLike<number>;
  let shift = 0;
  let photometricOut = photometric;
  if (bitsAllocated === 1) {
    if (syntax.kind !== 'native') throw new MedclassError('unsupportedFormat', `DICOM Bits Allocated 1 is read uncompressed only, not as ${syntax.name}`);
    const data = nativeFrame(ds, element, px, 0, nativePixelDataBytes(px));
    raw = unpackBits(data, frame, pixels, !syntax.littleEndian && element.vr === 'OW');
  } else if (syntax.kind === 'native') {
    const data = nativeFrame(ds, element, px, frame);
    if (photometric === 'YBR_FULL_422') {
      if (bitsAllocated !== 8) throw new MedclassError('unsupportedFormat', `DICOM YBR_FULL_422 with ${bitsAllocated} bits allocated is not supported`);
      raw = expandYbr422(data, pixels);
      photometricOut = 'YBR_FULL';
    } else {
      const count = pixels * spp;
      const swapOw8 = !syntax.littleEndian && bitsAllocated === 8 && element.vr === 'OW';
      const words = unpackNative(data, bitsAllocated, count, syntax.littleEndian, swapOw8);
      raw = spp > 1 && px.planarConfiguration === 1 ? interleave(words, pixels, spp) : words;
    }
    shift = px.highBit + 1 - px.bitsStored;
  } else {
    const stream = encapsulatedFrame(ds, element, px, frame);
    const decoded = decodeCompressed(syntax.kind, stream, px, limits);
    if (decoded.width !== columns || decoded.height !== rows || decoded.components !== spp) {
      throw corrupt(
        `DICOM frame decoded to ${decoded.width}x${decoded.height} with ${decoded.components} component(s), ` +
          `but the header says ${columns}x${rows} with ${spp}`,
      );
    }
    raw = decoded.planar ? interleave(decoded.samples, pixels, spp) : decoded.samples;
    // RLE and encapsulated uncompressed keep whole words; codecs return the stored bits at the bottom
    if (syntax.kind === 'rle' || syntax.kind === 'encapsulatedNative') shift = px.highBit + 1 - px.bitsStored;
    if (syntax.kind === 'jpeg' && spp === 3 && photometric.startsWith('YBR')) photometricOut = 'RGB'; // libjpeg converts YCbCr
    if (syntax.kind === 'jpeg2000' && (photometric === 'YBR_RCT' || photometric === 'YBR_ICT')) photometricOut = 'RGB';
    if (photometric === 'YBR_FULL_422') photometricOut = photometricOut === 'RGB' ? 'RGB' : 'YBR_FULL';
  }

  if (isMonochrome(photometric)) {
    const stored = storedValues(raw, pixels, px.bitsStored, shift, signed);
    return monochromeToGrey(stored, columns, rows, readVoi(ds, frame), photometric === 'MONOCHROME1');
  }
  if (photometric === 'PALETTE COLOR') {
    const stored = storedValues(raw, pixels, px.bitsStored, shift, signed);
    return rgbToGrey(paletteToRgb(ds, stored, pixels, signed), columns, rows);
  }
  // RGB and YBR: 8 bits per sample (checked); keep the stored bits
  const rgb = new Uint8Array(pixels * 3);
  const mask = (1 << px.bitsStored) - 1;
  for (let i = 0; i < pixels * 3; i++) rgb[i] = (raw[i]! >> shift) & mask;
  if (photometricOut === 'YBR_FULL') return rgbToGrey(ybrFullToRgb(rgb), columns, rows);
  if (photometricOut === 'RGB') return rgbToGrey(rgb, columns, rows);
  throw new MedclassError('unsupportedFormat', `DICOM photometric interpretation ${photometric} is not supported for this transfer syntax`);
}

/**
 * One frame of native pixel data (or `bytes` from the frame's start), after checking the
 * declared length against the file and the header.
 */
function nativeFrame(ds: DataSet, element: Element, px: PixelModule, frame: number, bytes = nativeFrameBytes(px)): Uint8Array {
  if (element.hadUndefinedLength || element.encapsulatedPixelData) {
    throw corrupt('DICOM pixel data is encapsulated (fragments), but the transfer syntax is an uncompressed one');
  }
  const present = ds.byteArray.length - element.dataOffset;
  if (element.length > present) throw corrupt(`DICOM pixel data is truncated: ${element.length} bytes declared, ${present} present`);
  const frameBytes = nativeFrameBytes(px);
  const needed = nativePixelDataBytes(px);
  if (element.length < needed) {
    throw corrupt(
      `DICOM pixel data holds ${element.length} bytes, but ${px.numberOfFrames} frame(s) of ${px.columns}x${px.rows} ` +
        `with ${px.samplesPerPixel} sample(s) of ${px.bitsAllocated} bits need ${needed}`,
    );
  }
  const start = element.dataOffset + frame * frameBytes;
  return ds.byteArray.subarray(start, start + bytes) as Uint8Array;
}

const startsFrame = (b: Uint8Array): boolean =>
  (b[0] === 0xff && (b[1] === 0xd8 || (b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51))) ||
  (b[4] === 0x6a && b[5] === 0x50 && b[6] === 0x20 && b[7] === 0x20); // JPEG / JPEG-LS SOI, J2K SOC+SIZ, JP2

/** The bytes of one frame of encapsulated pixel data (PS3.5 A.4), its fragments joined. */
function encapsulatedFrame(ds: DataSet, element: Element, px: PixelModule, frame: number): Uint8Array {
  const data = ds.byteArray as Uint8Array;
  const fragments = element.fragments;
  if (!element.hadUndefinedLength || !fragments) {
    throw corrupt('DICOM pixel data is not encapsulated, but the transfer syntax is a compressed one');
  }
  fragments.forEach((f, i) => {
    if (f.position + f.length > data.length) {
      throw corrupt(
        `DICOM pixel data is truncated: fragment ${i + 1} declares ${f.length} bytes, ${Math.max(0, data.length - f.position)} present`,
      );
    }
  });
  const unexpected = ds.warnings.find((w) => w.startsWith('unexpected tag'));
  if (unexpected) throw corrupt(`DICOM encapsulated pixel data is corrupt: ${unexpected}`);
  if (ds.warnings.some((w) => w.includes('missing sequence delimiter'))) {
    throw corrupt(
      `DICOM pixel data is truncated: the file ends after ${fragments.length} fragment(s) of encapsulated pixel data, ` +
        'without its sequence delimiter (FFFE,E0DD)',
    );
  }
  if (fragments.length === 0) throw corrupt('DICOM encapsulated pixel data has no fragment');
  const frames = px.numberOfFrames;
  let chosen: typeof fragments;
  if (frames === 1) chosen = fragments;
  else if (fragments.length === frames) chosen = [fragments[frame]!];
  else {
    const starts = frameStarts(ds, element, fragments, frames);
    const first = starts[frame]!;
    const next = starts[frame + 1] ?? fragments.length;
    chosen = fragments.slice(first, next);
  }
  const bytes = chosen.reduce((n, f) => n + f.length, 0);
  if (chosen.length === 1) return data.subarray(chosen[0]!.position, chosen[0]!.position + bytes);
  const out = new Uint8Array(bytes);
  let o = 0;
  for (const f of chosen) {
    out.set(data.subarray(f.position, f.position + f.length), o);
    o += f.length;
  }
  return out;
}

/** Index of each frame's first fragment: from the Basic or Extended Offset Table, or from frame start markers. */
function frameStarts(ds: DataSet, element: Element, fragments: NonNullable<Element['fragments']>, frames: number): number[] {
  const byOffset = (offsets: number[]) =>
    offsets.map((o, k) => {
      const i = fragments.findIndex((f) => f.offset === o);
      if (i < 0) throw corrupt(`DICOM offset table entry ${k + 1} (${o}) points at no fragment`);
      return i;
    });
  const bot = element.basicOffsetTable ?? [];
  if (bot.length >= frames && bot.some((o) => o !== 0)) return byOffset(bot.slice(0, frames));
  const eot = ds.elements['x7fe00001'];
  if (eot && eot.length >= frames * 8) {
    const offsets: number[] = [];
    for (let k = 0; k < frames; k++) {
      const lo = ds.byteArrayParser.readUint32(ds.byteArray, eot.dataOffset + 8 * k);
      const hi = ds.byteArrayParser.readUint32(ds.byteArray, eot.dataOffset + 8 * k + 4);
      offsets.push(hi * 2 ** 32 + lo);
    }
    return byOffset(offsets);
  }
  const starts: number[] = [];
  fragments.forEach((f, i) => {
    if (startsFrame(ds.byteArray.subarray(f.position, f.position + 8) as Uint8Array)) starts.push(i);
  });
  if (starts.length !== frames) {
    throw corrupt(`DICOM cannot tell which of ${fragments.length} fragments belong to each of ${frames} frames (no usable offset table)`);
  }
  return starts;
}

function decodeCompressed(kind: string, stream: Uint8Array, px: PixelModule, limits: DecodeLimits): CodecFrame {
  const { rows, columns, samplesPerPixel: spp, bitsAllocated } = px;
  switch (kind) {
    case 'encapsulatedNative': {
      const needed = nativeFrameBytes(px);
      if (stream.length < needed) throw corrupt(`DICOM encapsulated uncompressed frame holds ${stream.length} bytes, ${needed} needed`);
      const words = unpackNative(stream, bitsAllocated, rows * columns * spp, true, false);
      return { width: columns, height: rows, components: spp, bitsPerSample: bitsAllocated, samples: words, planar: px.planarConfiguration === 1 };
    }
    case 'rle': {
      const bytes = decodeRle(stream, rows * columns, spp, bitsAllocated / 8);
      const words = unpackNative(bytes, bitsAllocated, rows * columns * spp, true, false);
      return { width: columns, height: rows, components: spp, bitsPerSample: bitsAllocated, samples: words, planar: false };
    }
    case 'jpegLossless': {
      const header = jpegHeader(stream, 'JPEG lossless');
      checkStreamAgainstHeader(header, 'JPEG lossless', rows, columns, spp);
      return decodeJpegLossless(stream, bitsAllocated > 8 ? 2 : 1);
    }
    case 'jpeg': {
      checkJpegStructure(stream); // one frame, a bounded number of (progressive) scans
      const header = jpegHeader(stream, 'JPEG');
      checkStreamAgainstHeader(header, 'JPEG', rows, columns, spp);
      if (header.precision > 8) {
        const image = decodeDct(stream, limits.maxPixels);
        return { width: image.width, height: image.height, components: image.components, bitsPerSample: image.precision, samples: image.data, planar: false };
      }
      return decodeJpeg8(stream);
    }
    case 'jpegLs': {
      const header = jpegHeader(stream, 'JPEG-LS');
      checkStreamAgainstHeader(header, 'JPEG-LS', rows, columns, spp);
      return decodeJpegLs(stream);
    }
    case 'jpeg2000': {
      const header = j2kHeader(stream);
      checkStreamAgainstHeader(header, 'JPEG 2000', rows, columns, spp);
      return decodeJpeg2000(stream);
    }
  }
  throw new MedclassError('unsupportedFormat', `DICOM ${kind} pixel data is not supported`);
}

/**
 * The DICOM entry of the decoder list: first frame, limits checked from the header before
 * decoding. `prepare` loads the WebAssembly codec a file needs; ImageDecoder has no such
 * hook yet (an optional `prepare?(bytes): Promise<void>` awaited by an async decodeImage
 * would let the decoder list handle JPEG 2000, JPEG-LS and 8-bit JPEG without a prior
 * `loadDicomCodecs()`).
 */
export const dicomDecoder: ImageDecoder & { prepare(bytes: Uint8Array): Promise<void> } = {
  format: 'dicom',
  prepare: (bytes) => loadDicomCodecs(dicomCodecsNeeded(bytes)),
  matches: hasDicmPrefix,
  dimensions(bytes) {
    const parsed = parseDicomFile(bytes, { headerOnly: true, inflateCap: 0 });
    const px = readPixelModule(parsed.ds);
    return { width: px.columns, height: px.rows };
  },
  decode: (bytes, limits) => decodeDicomSync(bytes, { limits }),
};
