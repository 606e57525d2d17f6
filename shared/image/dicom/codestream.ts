/**
 * Reads the size that a compressed frame declares (JPEG SOF, JPEG-LS SOF55, JPEG 2000 SIZ)
 * without decoding it, so that a stream claiming more pixels than the DICOM header (a
 * decompression bomb, or a corrupt stream) is refused before any codec allocates memory.
 */
import { MedclassError } from '../../errors.ts';

export interface StreamHeader {
  width: number;
  height: number;
  components: number;
  /** Bits per sample. */
  precision: number;
  /** JPEG: the start-of-frame marker (0xc0 baseline, 0xc1 extended, 0xc3 lossless, 0xf7 JPEG-LS). */
  marker?: number;
  /** JPEG 2000: whether the first component is signed. */
  signed?: boolean;
}

const corrupt = (message: string) => new MedclassError('corruptImage', message);

const u16 = (b: Uint8Array, p: number) => (b[p]! << 8) | b[p + 1]!;
const u32 = (b: Uint8Array, p: number) => ((b[p]! << 24) >>> 0) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);

/** Markers without a length field. */
const STANDALONE = (m: number) => m === 0x01 || (m >= 0xd0 && m <= 0xd9);

/** The frame header of a JPEG (any process) or JPEG-LS stream. */
export function jpegHeader(b: Uint8Array, what: string): StreamHeader {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) throw corrupt(`${what} stream does not start with a JPEG SOI marker`);
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) throw corrupt(`${what} stream has no marker at byte ${p} before its frame header`);
    const marker = b[p + 1]!;
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (STANDALONE(marker)) {
      p += 2;
      continue;
    }
    const length = u16(b, p + 2);
    const isSof = (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) || marker === 0xf7;
    if (isSof) {
      if (p + 10 > b.length) break;
      return { precision: b[p + 4]!, height: u16(b, p + 5), width: u16(b, p + 7), components: b[p + 9]!, marker };
    }
    if (length < 2) throw corrupt(`${what} stream has a marker segment of length ${length} at byte ${p}`);
    p += 2 + length;
  }
  throw corrupt(`${what} stream ends before its frame header (SOF)`);
}

/** The SIZ segment of a JPEG 2000 codestream, bare or inside a JP2 file. */
export function j2kHeader(b: Uint8Array): StreamHeader {
  let p = 0;
  if (b.length >= 12 && u32(b, 0) === 12 && u32(b, 4) === 0x6a502020) {
    // JP2 boxes: find the contiguous codestream box 'jp2c'
    p = -1;
    for (let q = 0; q + 8 <= b.length; ) {
      let size = u32(b, q);
      const type = u32(b, q + 4);
      let header = 8;
      if (size === 1) {
        if (q + 16 > b.length) break;
        size = u32(b, q + 8) * 2 ** 32 + u32(b, q + 12);
        header = 16;
      } else if (size === 0) size = b.length - q;
      if (type === 0x6a703263) {
        p = q + header;
        break;
      }
      if (size < header) break;
      q += size;
    }
    if (p < 0) throw corrupt('JPEG 2000 file has no codestream box (jp2c)');
  }
  if (p + 4 > b.length || u16(b, p) !== 0xff4f || u16(b, p + 2) !== 0xff51) {
    throw corrupt('JPEG 2000 stream does not start with SOC and SIZ markers');
  }
  const s = p + 4; // Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz, Csiz, then Ssiz per component
  if (s + 41 > b.length) throw corrupt('JPEG 2000 stream ends inside its SIZ header');
  const width = u32(b, s + 4) - u32(b, s + 12);
  const height = u32(b, s + 8) - u32(b, s + 16);
  const components = u16(b, s + 36);
  if (s + 38 + 3 * components > b.length || components < 1) throw corrupt('JPEG 2000 SIZ header is truncated or declares no component');
  const ssiz = b[s + 38]!;
  return { width, height, components, precision: (ssiz & 0x7f) + 1, signed: (ssiz & 0x80) !== 0 };
}

/** Refuses a stream whose declared size or sample count differs from the DICOM header's. */
export function checkStreamAgainstHeader(
  header: StreamHeader,
  what: string,
  rows: number,
  columns: number,
  samplesPerPixel: number,
): void {
  // a JPEG frame height of 0 is set later by a DNL marker; the width must still agree
  const heightOk = header.height === rows || (header.height === 0 && header.marker !== undefined);
  if (header.width !== columns || !heightOk) {
    throw corrupt(
      `${what} stream declares ${header.width}x${header.height} pixels, but the DICOM header says ` +
        `${columns}x${rows} (Columns x Rows): corrupt or forged, refused before decoding`,
    );
  }
  if (header.components !== samplesPerPixel) {
    throw corrupt(
      `${what} stream has ${header.components} component(s), but the DICOM header says ${samplesPerPixel} sample(s) per pixel`,
    );
  }
}
