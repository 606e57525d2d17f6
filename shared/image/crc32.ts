/** CRC-32 (ISO 3309, as PNG chunks and ZIP entries use it). */
const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

let native: ((data: Uint8Array) => number) | null = null;

/**
 * A native CRC-32 for this thread (node:zlib's on the server: about fifty times the table's
 * speed, which cost a PNG of a few KiB more than ten microseconds).
 */
export function setNativeCrc32(fn: ((data: Uint8Array) => number) | null): void {
  native = fn;
}

export function crc32(data: Uint8Array, start = 0, end = data.length): number {
  if (native && end - start >= 64) return native(data.subarray(start, end));
  let c = -1;
  for (let i = start; i < end; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
