/**
 * DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header of segment offsets, then one
 * PackBits segment per byte plane (most significant byte of each sample first, sample
 * by sample). Output size is fixed by the header (rows x columns per segment), so a
 * stream can never expand past it.
 */
import { MedclassError } from '../../errors.ts';

const corrupt = (message: string) => new MedclassError('corruptImage', `DICOM RLE: ${message}`);

/**
 * Decodes one frame to raw little-endian words, interleaved by pixel
 * (`samplesPerPixel * bytesPerSample` bytes per pixel), as native pixel data with
 * planar configuration 0.
 */
export function decodeRle(frame: Uint8Array, pixels: number, samplesPerPixel: number, bytesPerSample: number): Uint8Array {
  if (frame.length < 64) throw corrupt(`frame of ${frame.length} bytes is shorter than its 64-byte header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = view.getUint32(0, true);
  const expected = samplesPerPixel * bytesPerSample;
  if (segments !== expected) {
    throw corrupt(`header lists ${segments} segments, but ${samplesPerPixel} sample(s) of ${bytesPerSample} byte(s) need ${expected}`);
  }
  const stride = expected;
  const out = new Uint8Array(pixels * stride);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : frame.length;
    if (start < 64 || start > end || end > frame.length) {
      throw corrupt(`segment ${s + 1} offsets ${start}..${end} lie outside the ${frame.length}-byte frame`);
    }
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample); // segments are MSB first; output little endian
    let o = sample * bytesPerSample + byteInSample;
    let written = 0;
    let p = start;
    while (written < pixels && p < end) {
      const n = frame[p++]!;
      if (n < 128) {
        const count = Math.min(n + 1, pixels - written);
        if (p + n + 1 > end) throw corrupt(`segment ${s + 1} literal run overruns the segment`);
        for (let i = 0; i < count; i++, o += stride) out[o] = frame[p + i]!;
        written += count;
        p += n + 1;
      } else if (n > 128) {
        if (p >= end) throw corrupt(`segment ${s + 1} repeat run overruns the segment`);
        const value = frame[p++]!;
        const count = Math.min(257 - n, pixels - written);
        for (let i = 0; i < count; i++, o += stride) out[o] = value;
        written += count;
      }
      // n === 128: no operation
    }
    if (written < pixels) throw corrupt(`segment ${s + 1} holds ${written} of its ${pixels} bytes: truncated or corrupt`);
  }
  return out;
}
