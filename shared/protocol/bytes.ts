/** Byte helpers of the protocol: concatenation, big-endian integers, strict base64url, UTF-8. */

/**
 * WebCrypto's TypeScript types want ArrayBuffer-backed views; callers may hold views on a
 * SharedArrayBuffer (which WebCrypto refuses anyway), so those are copied.
 */
export function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

export { concat } from '../bytes.ts';

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // no early exit: how much of a fingerprint matched is nobody's business
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export const randomBytes = (n: number): Uint8Array<ArrayBuffer> => globalThis.crypto.getRandomValues(new Uint8Array(n));

const encoder = new TextEncoder();
/** fatal: invalid UTF-8 throws instead of being replaced silently. */
const decoder = new TextDecoder('utf-8', { fatal: true });
export const utf8 = (text: string): Uint8Array<ArrayBuffer> => encoder.encode(text);
export const fromUtf8 = (bytes: Uint8Array): string => decoder.decode(bytes);

/** Writes v (an integer below 2^53) as a big-endian u64. */
export function setU64(view: DataView, offset: number, v: number): void {
  view.setUint32(offset, Math.floor(v / 2 ** 32));
  view.setUint32(offset + 4, v >>> 0);
}

/** Reads a big-endian u64; values of 2^53 and above come back as Infinity (callers refuse them). */
export function getU64(view: DataView, offset: number): number {
  const hi = view.getUint32(offset);
  return hi >= 2 ** 21 ? Infinity : hi * 2 ** 32 + view.getUint32(offset + 4);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const LOOKUP = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

/** base64url without padding (RFC 4648 section 5). */
export function toBase64url(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    s += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
    if (i + 1 < bytes.length) s += ALPHABET[(n >> 6) & 63]!;
    if (i + 2 < bytes.length) s += ALPHABET[n & 63]!;
  }
  return s;
}

/**
 * Strict base64url: no padding, no whitespace, no other alphabet, and unused trailing bits zero,
 * so every byte string has exactly one text form (fingerprints compare as strings). Null when
 * the text is not canonical base64url.
 */
export function fromBase64url(text: string): Uint8Array<ArrayBuffer> | null {
  if (text.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? LOOKUP[c]! : -1;
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 255;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) return null;
  return out;
}

export const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
