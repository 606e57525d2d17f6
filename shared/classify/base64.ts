/** Base64 (RFC 4648, with padding) and exact little-endian float64 packing, for the model file. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
const PAD = '='.charCodeAt(0);

/** Base64 of bytes: the characters as ASCII bytes first, then one decode (megabytes in milliseconds). */
export function encodeBase64(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(Math.ceil(n / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = CODES[v >> 18]!;
    out[o++] = CODES[(v >> 12) & 63]!;
    out[o++] = CODES[(v >> 6) & 63]!;
    out[o++] = CODES[v & 63]!;
  }
  if (i < n) {
    const b0 = bytes[i]!;
    const b1 = i + 1 < n ? bytes[i + 1]! : 0;
    out[o++] = CODES[b0 >> 2]!;
    out[o++] = CODES[((b0 & 3) << 4) | (b1 >> 4)]!;
    out[o++] = i + 1 < n ? CODES[(b1 & 15) << 2]! : PAD;
    out[o] = PAD;
  }
  return new TextDecoder().decode(out);
}

export function decodeBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new Error('base64: length is not a multiple of 4');
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    const c = [0, 1, 2, 3].map((k) => {
      const code = text.charCodeAt(i + k);
      if (last && text[i + k] === '=' && k >= 4 - pad) return 0;
      const v = code < 128 ? LOOKUP[code]! : -1;
      if (v < 0) throw new Error(`base64: bad character at ${i + k}`);
      return v;
    }) as [number, number, number, number];
    const n = (c[0] << 18) | (c[1] << 12) | (c[2] << 6) | c[3];
    out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/** The bytes of a float64 array, little-endian whatever the platform. */
export function float64Bytes(values: Float64Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat64(i * 8, v, true));
  return out;
}

export function bytesToFloat64(bytes: Uint8Array): Float64Array {
  if (bytes.length % 8 !== 0) throw new Error('float64 data: byte length is not a multiple of 8');
  const out = new Float64Array(bytes.length / 8);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
  else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  }
  return out;
}

export const float64ToBase64 = (values: Float64Array): string => encodeBase64(float64Bytes(values));
export const base64ToFloat64 = (text: string): Float64Array => bytesToFloat64(decodeBase64(text));

/** The bytes of a float32 array, little-endian whatever the platform (a CNN's weights). */
export function float32Bytes(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

export function bytesToFloat32(bytes: Uint8Array): Float32Array {
  if (bytes.length % 4 !== 0) throw new Error('float32 data: byte length is not a multiple of 4');
  const out = new Float32Array(bytes.length / 4);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
  else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  }
  return out;
}

export const float32ToBase64 = (values: Float32Array): string => encodeBase64(float32Bytes(values));
export const base64ToFloat32 = (text: string): Float32Array => bytesToFloat32(decodeBase64(text));
