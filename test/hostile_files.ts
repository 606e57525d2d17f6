/**
 * Hostile files, made in the test (nothing large is committed): the two PNG attacks of issue
 * 11 and a ZIP whose entries inflate to far more than it weighs. A DEFLATE stream of zeros
 * is made from fflate's output for 1 MiB: its second block (after a sync flush, so byte
 * aligned) copies zeros from the window and so can be repeated as often as needed; making a
 * 256 MiB bomb takes milliseconds.
 */
import { concat } from '../shared/bytes.ts';
import { Deflate } from 'fflate';
import { crc32 } from '../shared/image/crc32.ts';

const MiB = 2 ** 20;
let blocks: { first: Uint8Array; repeat: Uint8Array; last: Uint8Array } | null = null;

/** A raw DEFLATE stream that inflates to `bytes` zeros (a multiple of 1 MiB; about bytes / 1030 long). */
export function deflateZeros(bytes: number): Uint8Array {
  if (bytes < MiB || bytes % MiB) throw new Error('a multiple of 1 MiB');
  if (!blocks) {
    const parts: Uint8Array[] = [];
    const d = new Deflate({ level: 9 }, (chunk) => parts.push(chunk.slice()));
    const take = () => concat(...parts.splice(0));
    d.push(new Uint8Array(MiB));
    d.flush(true);
    const first = take();
    d.push(new Uint8Array(MiB));
    d.flush(true);
    const repeat = take();
    d.push(new Uint8Array(0), true);
    blocks = { first, repeat, last: take() };
  }
  return concat(blocks.first, ...Array.from({ length: bytes / MiB - 1 }, () => blocks!.repeat), blocks.last);
}

/** A zlib stream of `bytes` zeros. */
export function zlibZeros(bytes: number): Uint8Array {
  const adler = ((bytes % 65521) * 65536 + 1) >>> 0;
  const trailer = new Uint8Array(4);
  new DataView(trailer.buffer).setUint32(0, adler);
  return concat(Uint8Array.from([0x78, 0x01]), deflateZeros(bytes), trailer);
}

/** One PNG chunk: length, type, data, CRC. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

export function ihdr(width: number, height: number, depth = 8, colorType = 0, interlace = 0): Uint8Array {
  const d = new Uint8Array(13);
  const view = new DataView(d.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  d.set([depth, colorType, 0, 0, interlace], 8);
  return d;
}

export const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export const png = (chunks: [string, Uint8Array][]): Uint8Array => concat(PNG_SIGNATURE, ...chunks.map(([t, d]) => pngChunk(t, d)), pngChunk('IEND', new Uint8Array(0)));

/** Issue 11's inflate bomb: a PNG declaring 1x1 grey whose image data inflates to `bytes` (256 MiB: about 261 KB). */
export const inflateBombPng = (bytes = 256 * 2 ** 20): Uint8Array => png([['IHDR', ihdr(1, 1)], ['IDAT', zlibZeros(bytes)]]);

/**
 * Issue 11's hidden size: the first chunk is not IHDR but holds "1x1" where IHDR's width and
 * height would be; the real IHDR, after it, declares 8000x8000 (64 Mpx, about 62 KB of data).
 * With `twoHeaders` the first chunk is an IHDR of 1x1 and a second IHDR follows.
 */
export function hiddenSizePng(twoHeaders = false, size = 8000): Uint8Array {
  return png([
    [twoHeaders ? 'IHDR' : 'hIDE', ihdr(1, 1)],
    ['IHDR', ihdr(size, size)],
    ['IDAT', zlibZeros(Math.ceil((size * (size + 1)) / MiB) * MiB)],
  ]);
}

/** A ZIP (deflated entries) of the given names and raw DEFLATE data, each declaring `size` and `crc`. */
export function zipOf(entries: { name: string; data: Uint8Array; size: number; crc: number }[]): Uint8Array {
  const local: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const l = new Uint8Array(30 + name.length);
    const lv = new DataView(l.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, 8, true);
    lv.setUint32(14, e.crc, true);
    lv.setUint32(18, e.data.length, true);
    lv.setUint32(22, e.size, true);
    lv.setUint16(26, name.length, true);
    l.set(name, 30);
    const c = new Uint8Array(46 + name.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, 8, true);
    cv.setUint32(16, e.crc, true);
    cv.setUint32(20, e.data.length, true);
    cv.setUint32(24, e.size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    c.set(name, 46);
    local.push(l, e.data);
    central.push(c);
    offset += l.length + e.data.length;
  }
  const dir = concat(...central);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, dir.length, true);
  ev.setUint32(16, offset, true);
  return concat(...local, dir, eocd);
}

/** A dataset ZIP of `entries` PNG-named entries of `entryBytes` zeros each (8 x 32 MiB: about 210 KB). */
export function zipBomb(entries = 8, entryBytes = 32 * 2 ** 20): Uint8Array {
  const data = deflateZeros(entryBytes);
  const crc = crc32(new Uint8Array(entryBytes));
  return zipOf(Array.from({ length: entries }, (_, i) => ({ name: `${i % 2 ? 'b' : 'a'}/${i}.png`, data, size: entryBytes, crc })));
}
