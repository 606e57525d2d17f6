/**
 * Records as bytes: JSON where every Uint8Array is written as {"$bytes": "<base64>"}, so that
 * a queued image (its reduced pixels, features or file) and its metadata seal as one value.
 */
const BYTES = '$bytes';

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function encodeRecord(value: unknown): Uint8Array<ArrayBuffer> {
  const json = JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? { [BYTES]: toBase64(v) } : v));
  return new TextEncoder().encode(json);
}

export function decodeRecord<T>(bytes: Uint8Array): T {
  return JSON.parse(new TextDecoder().decode(bytes), (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      const b = (v as Record<string, unknown>)[BYTES];
      if (keys.length === 1 && typeof b === 'string') return fromBase64(b);
    }
    return v;
  }) as T;
}
