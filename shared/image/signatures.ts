/** The signatures that pick a decoder, apart from the decoders (and their libraries) themselves. */

/** JPEG: a start-of-image marker followed by another marker. */
export const isJpeg = (bytes: Uint8Array): boolean => bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;

/** DICOM Part 10: `DICM` after the 128-byte preamble. */
export function hasDicmPrefix(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}
