import { MedclassError } from '../errors.ts';
import type { GreyArena } from './grey_arena.ts';
import type { GreyImage } from './grey.ts';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.ts';
import { formatBytes, formatCount } from '../format.ts';

/** One encoded format, turned into grey intensities as docs/features.md section 1 says. */
export interface ImageDecoder {
  format: string;
  /** Whether the bytes carry this format's signature. */
  matches(bytes: Uint8Array): boolean;
  /** The declared size, read from the header alone, so limits hold before decoding. */
  dimensions(bytes: Uint8Array): { width: number; height: number };
  /** The grey pixels may be taken from `arena` (PNG's are). */
  decode(bytes: Uint8Array, limits: DecodeLimits, arena?: GreyArena): GreyImage;
  /** Loads what `decode` needs for these bytes (a WebAssembly codec), when that is asynchronous. */
  prepare?(bytes: Uint8Array): Promise<void>;
  /** A decoder registered before its module was loaded (lazy.ts): loads it, before anything else is asked of it. */
  load?(): Promise<void>;
}

const decoders: ImageDecoder[] = [];

/** Adds a format (DICOM registers itself here); later registrations are tried first. */
export function registerDecoder(decoder: ImageDecoder): void {
  if (!decoders.some((d) => d.format === decoder.format)) decoders.unshift(decoder);
}

export function supportedFormats(): string[] {
  return decoders.map((d) => d.format);
}

export function findDecoder(bytes: Uint8Array): ImageDecoder | undefined {
  return decoders.find((d) => d.matches(bytes));
}

/** The decoder for these bytes, after the size and pixel-count checks that come before any decoding. */
function checkedDecoder(bytes: Uint8Array, limits: DecodeLimits): { decoder: ImageDecoder; width: number; height: number } {
  if (bytes.length === 0) throw new MedclassError('corruptImage', 'the file is empty (0 bytes)');
  if (bytes.length > limits.maxBytes) {
    throw new MedclassError('imageTooLarge', `file is ${formatBytes(bytes.length)}, more than the limit of ${formatBytes(limits.maxBytes)}`);
  }
  const decoder = findDecoder(bytes);
  if (!decoder) {
    throw new MedclassError('unsupportedFormat', `not a supported image (expected ${supportedFormats().join(', ')})`);
  }
  const { width, height } = decoder.dimensions(bytes);
  if (width < 1 || height < 1) throw new MedclassError('corruptImage', `${decoder.format} declares an empty image (${width}x${height})`);
  if (width * height > limits.maxPixels) {
    throw new MedclassError(
      'imageTooLarge',
      `${decoder.format} declares ${width}x${height} pixels, more than the limit of ${formatCount(limits.maxPixels)}`,
    );
  }
  return { decoder, width, height };
}

/**
 * Decodes any registered format to grey, refusing oversized, unknown and corrupt input with
 * a clear error. Formats whose codecs load asynchronously (compressed DICOM) need
 * `decodeImageAsync`, or their codecs loaded beforehand. With an arena, the image may live
 * in its buffers (valid until its release).
 */
export function decodeImage(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS, arena?: GreyArena): GreyImage {
  return clearly(bytes, () => {
    const { decoder, width, height } = checkedDecoder(bytes, limits);
    return sameSize(decoder, decoder.decode(bytes, limits, arena), width, height);
  });
}

/**
 * Whatever a codec throws on a hostile file (dicom-parser throws strings, codecs RangeErrors)
 * becomes a clear refusal with a code and one line: the caller goes on with the next image.
 */
function clearly<T>(bytes: Uint8Array, work: () => T): T {
  try {
    return work();
  } catch (e) {
    if (e instanceof MedclassError) throw e;
    const what = findDecoder(bytes)?.format ?? 'the image';
    const text = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
    throw new MedclassError('corruptImage', `${what} could not be decoded: ${text}`);
  }
}

/** A decoder that found another size than the header declared read something else than what was checked. */
function sameSize(decoder: ImageDecoder, image: GreyImage, width: number, height: number): GreyImage {
  if (image.width !== width || image.height !== height) {
    throw new MedclassError('corruptImage', `${decoder.format} declares ${width}x${height} pixels but holds ${image.width}x${image.height}`);
  }
  return image;
}

/** As decodeImage, loading the codec the file needs first. */
export async function decodeImageAsync(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<GreyImage> {
  await findDecoder(bytes)?.load?.();
  const { decoder, width, height } = clearly(bytes, () => checkedDecoder(bytes, limits));
  await decoder.prepare?.(bytes);
  return clearly(bytes, () => sameSize(decoder, decoder.decode(bytes, limits), width, height));
}
