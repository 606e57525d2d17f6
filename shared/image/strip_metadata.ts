/**
 * Text a PNG or JPEG carries beside its pixels (PNG text and EXIF chunks, JPEG EXIF, XMP,
 * IPTC and comments) can name the patient: the admin page removes it before a file leaves
 * the device, as it de-identifies DICOM. The pixels and what decoding needs are kept byte
 * for byte: PNG's IHDR, PLTE, tRNS, IDAT and IEND; JPEG's every segment but APP1 to APP13,
 * APP15 and COM (APP0 JFIF and APP14 Adobe say how to read the colours).
 */
import { concat } from '../bytes.ts';

const PNG_KEEP = new Set(['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND']);

/** The PNG with only the chunks that make its pixels; null when its chunks cannot be walked. */
export function stripPng(bytes: Uint8Array): Uint8Array | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kept: Uint8Array[] = [bytes.subarray(0, 8)];
  for (let p = 8; ; ) {
    if (p + 12 > bytes.length) return null;
    const length = view.getUint32(p);
    const end = p + 12 + length;
    if (end > bytes.length) return null;
    const type = String.fromCharCode(bytes[p + 4]!, bytes[p + 5]!, bytes[p + 6]!, bytes[p + 7]!);
    if (PNG_KEEP.has(type)) kept.push(bytes.subarray(p, end));
    p = end;
    if (type === 'IEND') break;
  }
  return concat(...kept);
}

const dropJpeg = (marker: number) => (marker >= 0xe1 && marker <= 0xed) || marker === 0xef || marker === 0xfe;

/** The JPEG without its metadata segments before the first scan; null when its segments cannot be walked. */
export function stripJpeg(bytes: Uint8Array): Uint8Array | null {
  const kept: Uint8Array[] = [bytes.subarray(0, 2)];
  for (let p = 2; ; ) {
    if (p + 4 > bytes.length || bytes[p] !== 0xff) return null;
    const marker = bytes[p + 1]!;
    if (marker === 0xda || marker === 0xd9) {
      // the scans and what follows them, as they are
      kept.push(bytes.subarray(p));
      break;
    }
    const end = p + 2 + ((bytes[p + 2]! << 8) | bytes[p + 3]!);
    if (end > bytes.length) return null;
    if (!dropJpeg(marker)) kept.push(bytes.subarray(p, end));
    p = end;
  }
  return concat(...kept);
}
