/**
 * Issue 11 section 1: real files of each format (PNG, JPEG, DICOM, ZIP), mutated where their
 * sizes and streams are declared (chunk order and lengths, header sizes, frame and scan
 * headers, element lengths, declared entry sizes, compressed streams swapped for bombs) and
 * at random bytes. Each must end in one of two ways: a clear error (a MedclassError,
 * ClassifyError or ZipError with a code and a one-line message), or a decode within the
 * limits. The work is bounded, not only the outcome: every inflate is counted, and the bytes
 * it produced must stay within the budgets the headers declared (plus one bounded step each),
 * the budgets within what the limits allow; the process's memory growth is measured and
 * bounded; times are printed. fast-check runs with a fixed seed.
 */
import fc from 'fast-check';
import { zipSync, type Zippable } from 'fflate';
import { encode as encodeJpeg } from 'jpeg-js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ZipError, readZipDataset, type ZipLimits } from '../server/training/zip_dataset.ts';
import { ClassifyError } from '../shared/classify/errors.ts';
import { MedclassError } from '../shared/errors.ts';
import { crc32 } from '../shared/image/crc32.ts';
import { MAX_JPEG_SCANS } from '../shared/image/jpeg.ts';
import { decodeImage, decodeImageAsync, type DecodeLimits } from '../shared/image/index.ts';
import { inflateCounters, INFLATE_OVERSHOOT, resetInflateCounters } from '../shared/image/inflate.ts';
import { concat } from '../shared/bytes.ts';
import { deflateZeros, pngChunk, PNG_SIGNATURE, zlibZeros, zipOf } from './hostile_files.ts';
import { dataset, GOLDEN } from './golden.ts';

const MiB = 2 ** 20;
const LIMITS: DecodeLimits = { maxBytes: 16 * MiB, maxPixels: 4_000_000 };
const ZIP_LIMITS: ZipLimits = { maxEntries: 64, maxTotalBytes: 64 * MiB, maxEntryBytes: 16 * MiB };
/** What the limits let a header declare for inflation: PNG rows of 8 bytes a pixel plus filter bytes; DICOM frames of up to 4 samples of 32 bits, plus the header-only prefix (16 MiB) and 1 MiB of elements. */
const BUDGET_CAP = { png: 9 * LIMITS.maxPixels, jpeg: 0, dicom: 16 * LIMITS.maxPixels + 16 * MiB + 2 * 16 * MiB, zip: ZIP_LIMITS.maxTotalBytes };
/** Memory the whole fuzz may add to the process (peak RSS over the start). */
const RSS_BOUND = 768 * MiB;

type Format = keyof typeof BUDGET_CAP;
const read = (path: string) => new Uint8Array(readFileSync(path));

// ---------------------------------------------------------------------------------------
// Seeds: real files.

const PNG_SEEDS = ['camera_16bit.png', 'coffee_rgba.png', 'tiny_28x28_rgb.png', 'nonsquare_64x48.png', 'horse.png', 'dramp.png'].map((f) => read(join(GOLDEN, 'images', f)));
const JPEG_SEEDS = ['tiny_28x28_rgb.png', 'nonsquare_64x48.png', 'odd_65x65.png'].map((f) => {
  const g = decodeImage(read(join(GOLDEN, 'images', f)));
  const rgba = new Uint8Array(g.width * g.height * 4);
  g.data.forEach((v, i) => rgba.set([v * 255, v * 200, v * 100, 255], 4 * i));
  return new Uint8Array(encodeJpeg({ width: g.width, height: g.height, data: rgba }, 80).data);
});
const DICOM_SEEDS = ['CT_small.dcm', 'MR_small_RLE.dcm', 'image_dfl.dcm', 'JPGExtended.dcm', 'MR_small_jpeg_ls_lossless.dcm', 'SC_rgb_rle_2frame.dcm'].map((f) => read(join(dataset('dicom'), f)));
const BREAST = join(dataset('breastmnist'), 'train');
const ZIP_IMAGES = ['0', '1'].flatMap((label) =>
  readdirSync(join(BREAST, label))
    .sort()
    .slice(0, 3)
    .map((f) => [`${label}/${f}`, read(join(BREAST, label, f))] as const),
);

// ---------------------------------------------------------------------------------------
// Mutations.

const INTERESTING = [0, 1, 2, 13, 255, 256, 4095, 65535, 65536, 8000, 2 ** 24, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];
const value = fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 2 ** 32 - 1 }));
/** A position anywhere in the file, not biased towards its start (fast-check favours small numbers). */
const fraction = fc.noBias(fc.integer({ min: 0, max: 2 ** 24 - 1 })).map((v) => v / 2 ** 24);

/** Byte-level damage anywhere: flips, cuts, insertions, an integer overwritten. */
const byteOp = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fraction, xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fraction }),
  fc.record({ kind: fc.constant('insert' as const), at: fraction, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('int' as const), at: fraction, width: fc.constantFrom(2, 4), little: fc.boolean(), value }),
);
type ByteOp = typeof byteOp extends fc.Arbitrary<infer T> ? T : never;

function applyByteOp(b: Uint8Array, op: ByteOp): Uint8Array {
  const at = Math.floor(op.at * b.length);
  switch (op.kind) {
    case 'flip': {
      const out = b.slice();
      out[at]! ^= op.xor;
      return out;
    }
    case 'truncate':
      return b.slice(0, at);
    case 'insert':
      return concat(b.subarray(0, at), op.bytes, b.subarray(at));
    case 'int': {
      const out = b.slice();
      if (at + op.width > out.length) return out;
      const view = new DataView(out.buffer);
      if (op.width === 2) view.setUint16(at, op.value & 0xffff, op.little);
      else view.setUint32(at, op.value >>> 0, op.little);
      return out;
    }
  }
}

/** PNG chunks as [type, data], from a valid file. */
function pngChunks(b: Uint8Array): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let p = 8; p + 12 <= b.length; ) {
    const length = view.getUint32(p);
    out.push([String.fromCharCode(...b.subarray(p + 4, p + 8)), b.subarray(p + 8, p + 8 + length)]);
    p += 12 + length;
  }
  return out;
}

const pngOp = fc.oneof(
  fc.record({ kind: fc.constant('swap' as const), i: fc.nat(), j: fc.nat() }),
  fc.record({ kind: fc.constant('dup' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('drop' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('ihdr' as const), width: value, height: value }),
  fc.record({ kind: fc.constant('decoy' as const), width: value, height: value }),
  fc.record({ kind: fc.constant('bomb' as const), mib: fc.integer({ min: 1, max: 96 }) }),
  fc.record({ kind: fc.constant('splitIdat' as const), at: fraction }),
);
type PngOp = typeof pngOp extends fc.Arbitrary<infer T> ? T : never;

function applyPngOp(chunks: [string, Uint8Array][], op: PngOp): [string, Uint8Array][] {
  const c = chunks.slice();
  const n = c.length;
  switch (op.kind) {
    case 'swap': {
      const [i, j] = [op.i % n, op.j % n];
      [c[i], c[j]] = [c[j]!, c[i]!];
      return c;
    }
    case 'dup':
      c.splice(op.i % n, 0, c[op.i % n]!);
      return c;
    case 'drop':
      c.splice(op.i % n, 1);
      return c;
    case 'ihdr':
    case 'decoy': {
      const i = c.findIndex(([t]) => t === 'IHDR');
      if (i < 0) return c;
      const data = c[i]![1].slice();
      new DataView(data.buffer).setUint32(0, op.width >>> 0);
      new DataView(data.buffer).setUint32(4, op.height >>> 0);
      // a decoy: another chunk first, holding a small size where IHDR's would be; the real IHDR stays
      if (op.kind === 'decoy') c.unshift(['hIDE', data]);
      else c[i] = ['IHDR', data];
      return c;
    }
    case 'bomb':
      return [...c.filter(([t]) => t !== 'IDAT' && t !== 'IEND'), ['IDAT', zlibZeros(op.mib * MiB)], ['IEND', new Uint8Array(0)]];
    case 'splitIdat': {
      const i = c.findIndex(([t]) => t === 'IDAT');
      if (i < 0) return c;
      const d = c[i]![1];
      const at = Math.floor(op.at * d.length);
      c.splice(i, 1, ['IDAT', d.subarray(0, at)], ['tEXt', new TextEncoder().encode('a\0between')], ['IDAT', d.subarray(at)]);
      return c;
    }
  }
}

/** The JPEG's marker segments up to the first scan, the scan(s), and what follows. */
function jpegSegments(b: Uint8Array): { marker: number; start: number; end: number }[] {
  const out: { marker: number; start: number; end: number }[] = [];
  let p = 2;
  while (p + 4 <= b.length && b[p] === 0xff) {
    const marker = b[p + 1]!;
    if (marker === 0xd9) break;
    let end = p + 2 + ((b[p + 2]! << 8) | b[p + 3]!);
    if (marker === 0xda) while (end + 1 < b.length && !(b[end] === 0xff && b[end + 1] !== 0 && !(b[end + 1]! >= 0xd0 && b[end + 1]! <= 0xd7))) end++;
    out.push({ marker, start: p, end });
    p = end;
  }
  return out;
}

const jpegOp = fc.oneof(
  fc.record({ kind: fc.constant('sof' as const), width: fc.integer({ min: 0, max: 65535 }), height: fc.integer({ min: 0, max: 65535 }) }),
  fc.record({ kind: fc.constant('scans' as const), times: fc.integer({ min: 2, max: 3 * MAX_JPEG_SCANS }) }),
  fc.record({ kind: fc.constant('dupSof' as const), width: fc.integer({ min: 1, max: 65535 }), height: fc.integer({ min: 1, max: 65535 }) }),
);
type JpegOp = typeof jpegOp extends fc.Arbitrary<infer T> ? T : never;

function applyJpegOp(b: Uint8Array, op: JpegOp): Uint8Array {
  const segs = jpegSegments(b);
  const sof = segs.find((s) => s.marker === 0xc0);
  const sos = segs.find((s) => s.marker === 0xda);
  if (!sof || !sos) return b;
  switch (op.kind) {
    case 'sof': {
      const out = b.slice();
      new DataView(out.buffer).setUint16(sof.start + 5, op.height);
      new DataView(out.buffer).setUint16(sof.start + 7, op.width);
      return out;
    }
    case 'scans':
      return concat(b.subarray(0, sos.end), ...Array.from({ length: op.times - 1 }, () => b.subarray(sos.start, sos.end)), b.subarray(sos.end));
    case 'dupSof': {
      const second = b.slice(sof.start, sof.end);
      new DataView(second.buffer).setUint16(5, op.height);
      new DataView(second.buffer).setUint16(7, op.width);
      return concat(b.subarray(0, sof.end), second, b.subarray(sof.end));
    }
  }
}

/** Where an explicit VR little endian element's value (after a 2-byte length) or length field is, found by its tag and VR. */
function findElement(b: Uint8Array, group: number, element: number, vr: string): number {
  for (let p = 132; p + 8 <= b.length; p++) {
    if (b[p] === (group & 0xff) && b[p + 1] === group >> 8 && b[p + 2] === (element & 0xff) && b[p + 3] === element >> 8 && b[p + 4] === vr.charCodeAt(0) && b[p + 5] === vr.charCodeAt(1)) return p;
  }
  return -1;
}

const dicomOp = fc.oneof(
  fc.record({ kind: fc.constant('rows' as const), value: fc.integer({ min: 0, max: 65535 }) }),
  fc.record({ kind: fc.constant('columns' as const), value: fc.integer({ min: 0, max: 65535 }) }),
  fc.record({ kind: fc.constant('bits' as const), value: fc.constantFrom(0, 1, 7, 8, 12, 16, 24, 32, 64) }),
  fc.record({ kind: fc.constant('pixelLength' as const), value }),
  fc.record({ kind: fc.constant('deflateBomb' as const), mib: fc.integer({ min: 1, max: 96 }) }),
);
type DicomOp = typeof dicomOp extends fc.Arbitrary<infer T> ? T : never;

function applyDicomOp(b: Uint8Array, op: DicomOp): Uint8Array {
  const out = b.slice();
  const view = new DataView(out.buffer);
  const set16 = (el: number, v: number) => {
    const p = findElement(out, 0x0028, el, 'US');
    if (p >= 0) view.setUint16(p + 8, v, true);
  };
  switch (op.kind) {
    case 'rows':
      set16(0x0010, op.value);
      return out;
    case 'columns':
      set16(0x0011, op.value);
      return out;
    case 'bits':
      set16(0x0100, op.value);
      return out;
    case 'pixelLength': {
      for (const vr of ['OW', 'OB']) {
        const p = findElement(out, 0x7fe0, 0x0010, vr);
        if (p >= 0) view.setUint32(p + 8, op.value >>> 0, true);
      }
      return out;
    }
    case 'deflateBomb': {
      // the deflated data set (after the file meta) swapped for a stream of zeros
      if (!new TextDecoder().decode(b.subarray(132, 400)).includes('1.2.840.10008.1.2.1.99')) return out;
      const metaLength = view.getUint32(132 + 8, true);
      return concat(b.subarray(0, 132 + 12 + metaLength), deflateZeros(op.mib * MiB));
    }
  }
}

interface ZipEntrySpec {
  name: string;
  data: Uint8Array;
  size: number;
  crc: number;
}
const zipOp = fc.oneof(
  fc.record({ kind: fc.constant('size' as const), i: fc.nat(), value }),
  fc.record({ kind: fc.constant('bombEntry' as const), i: fc.nat(), mib: fc.integer({ min: 1, max: 96 }), declareTrue: fc.boolean() }),
  fc.record({ kind: fc.constant('many' as const), count: fc.integer({ min: 2, max: 200 }) }),
  fc.record({ kind: fc.constant('rename' as const), i: fc.nat(), name: fc.constantFrom('a/b/c/d.png', '../x.png', 'train/a/DOE/1.png', '', '/abs.png', 'a\\b.png', '__MACOSX/a/1.png') }),
);
type ZipOp = typeof zipOp extends fc.Arbitrary<infer T> ? T : never;

function applyZipOp(entries: ZipEntrySpec[], op: ZipOp): ZipEntrySpec[] {
  const e = entries.slice();
  const i = op.kind === 'many' ? 0 : op.i % e.length;
  switch (op.kind) {
    case 'size':
      e[i] = { ...e[i]!, size: op.value >>> 0 };
      return e;
    case 'bombEntry': {
      const size = op.mib * MiB;
      e[i] = { ...e[i]!, data: deflateZeros(size), size: op.declareTrue ? size : e[i]!.size, crc: 0 };
      return e;
    }
    case 'many':
      return Array.from({ length: op.count }, (_, k) => ({ ...e[k % e.length]!, name: `${k % 2}/${k}.png` }));
    case 'rename':
      e[i] = { ...e[i]!, name: op.name };
      return e;
  }
}

/** The seed ZIP's entries (raw DEFLATE each, as zipSync made them). */
function zipEntries(): ZipEntrySpec[] {
  const zipped = zipSync(Object.fromEntries(ZIP_IMAGES) as Zippable, { level: 6 });
  const view = new DataView(zipped.buffer);
  const out: ZipEntrySpec[] = [];
  let o = 0;
  while (view.getUint32(o, true) === 0x04034b50) {
    const compressed = view.getUint32(o + 18, true);
    const nameLength = view.getUint16(o + 26, true);
    const start = o + 30 + nameLength + view.getUint16(o + 28, true);
    out.push({ name: new TextDecoder().decode(zipped.subarray(o + 30, o + 30 + nameLength)), data: zipped.slice(start, start + compressed), size: view.getUint32(o + 22, true), crc: view.getUint32(o + 14, true) });
    o = start + compressed;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The check: one of two outcomes, the work within the budgets, time and memory recorded.

const stats = new Map<Format, { cases: number; ok: number; codes: Map<string, number>; maxMs: number; inflated: number; maxInflated: number }>();
const rssStart = process.memoryUsage().rss;
let rssPeak = rssStart;
let heapPeak = 0;

async function check(format: Format, bytes: Uint8Array): Promise<void> {
  const s = stats.get(format) ?? { cases: 0, ok: 0, codes: new Map<string, number>(), maxMs: 0, inflated: 0, maxInflated: 0 };
  stats.set(format, s);
  s.cases++;
  resetInflateCounters();
  const started = performance.now();
  try {
    if (format === 'zip') {
      const d = readZipDataset(bytes, ZIP_LIMITS);
      expect(d.bytes).toBeLessThanOrEqual(ZIP_LIMITS.maxTotalBytes);
      expect(d.items.every((i) => i.bytes.length <= ZIP_LIMITS.maxEntryBytes)).toBe(true);
    } else {
      const g = await decodeImageAsync(bytes, LIMITS);
      expect(g.width * g.height).toBeLessThanOrEqual(LIMITS.maxPixels);
      expect(g.data.length).toBe(g.width * g.height);
    }
    s.ok++;
  } catch (e) {
    // a clear error: one of ours, with a code and a one-line message in words
    if (!(e instanceof MedclassError || e instanceof ClassifyError || e instanceof ZipError)) throw new Error(`${format}: not a clear error: ${(e as Error)?.stack ?? String(e)}`, { cause: e });
    expect(e.code).toMatch(/^[a-zA-Z]+$/);
    expect(e.message.length).toBeGreaterThan(10);
    expect(e.message).not.toMatch(/\n/);
    s.codes.set(e.code, (s.codes.get(e.code) ?? 0) + 1);
  }
  const ms = performance.now() - started;
  s.maxMs = Math.max(s.maxMs, ms);
  // the work: never past the budgets the headers declared (one bounded step each at most), and those within the limits
  expect(inflateCounters.bytesOut).toBeLessThanOrEqual(inflateCounters.budgets + inflateCounters.calls * INFLATE_OVERSHOOT);
  expect(inflateCounters.budgets).toBeLessThanOrEqual(BUDGET_CAP[format] * Math.max(1, format === 'zip' ? 1 : inflateCounters.calls));
  if (format === 'jpeg') expect(inflateCounters.calls).toBe(0);
  s.inflated += inflateCounters.bytesOut;
  s.maxInflated = Math.max(s.maxInflated, inflateCounters.bytesOut);
  const m = process.memoryUsage();
  rssPeak = Math.max(rssPeak, m.rss);
  heapPeak = Math.max(heapPeak, m.heapUsed);
}

const RUNS = 120;
const SEED = 11;

afterAll(() => {
  const lines = [...stats].map(
    ([f, s]) =>
      `  ${f}: ${s.cases} cases, ${s.ok} decoded within the limits, refused ${[...s.codes].map(([c, n]) => `${c} ${n}`).join(', ')}; slowest ${s.maxMs.toFixed(0)} ms; inflated ${(s.inflated / MiB).toFixed(1)} MiB in all, at most ${(s.maxInflated / MiB).toFixed(1)} MiB in one case`,
  );
  console.log(`hostile-file fuzz (seed ${SEED}):\n${lines.join('\n')}\n  peak RSS +${((rssPeak - rssStart) / MiB).toFixed(0)} MiB over the start (bound ${RSS_BOUND / MiB} MiB), peak heap ${(heapPeak / MiB).toFixed(0)} MiB`);
});

describe('hostile files: a clear error or a decode within the budget', () => {
  it('PNG: chunk order, duplicates, lengths, header sizes, decoy headers, bombs, split data, random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PNG_SEEDS), fc.array(pngOp, { maxLength: 3 }), fc.array(byteOp, { maxLength: 2 }), async (seed, ops, bytesOps) => {
        let bytes: Uint8Array = concat(PNG_SIGNATURE, ...ops.reduce(applyPngOp, pngChunks(seed)).map(([t, d]) => pngChunk(t, d)));
        bytes = bytesOps.reduce(applyByteOp, bytes);
        await check('png', bytes);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(rssPeak - rssStart).toBeLessThan(RSS_BOUND);
  }, 600_000);

  it('JPEG: frame sizes, a second frame header, repeated scans, random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...JPEG_SEEDS), fc.array(jpegOp, { maxLength: 2 }), fc.array(byteOp, { maxLength: 2 }), async (seed, ops, bytesOps) => {
        await check('jpeg', bytesOps.reduce(applyByteOp, ops.reduce(applyJpegOp, seed)));
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(rssPeak - rssStart).toBeLessThan(RSS_BOUND);
  }, 600_000);

  it('DICOM: rows, columns, bits, pixel data lengths, deflated data sets swapped for bombs, random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...DICOM_SEEDS), fc.array(dicomOp, { maxLength: 2 }), fc.array(byteOp, { maxLength: 2 }), async (seed, ops, bytesOps) => {
        await check('dicom', bytesOps.reduce(applyByteOp, ops.reduce(applyDicomOp, seed)));
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(rssPeak - rssStart).toBeLessThan(RSS_BOUND);
  }, 600_000);

  it('ZIP: declared sizes, entries that inflate past them, entry counts, paths, random bytes', async () => {
    const seed = zipEntries();
    expect(seed.map((e) => crc32(e.data) >= 0 && e.name)).toHaveLength(6);
    await fc.assert(
      fc.asyncProperty(fc.array(zipOp, { maxLength: 3 }), fc.array(byteOp, { maxLength: 2 }), async (ops, bytesOps) => {
        await check('zip', bytesOps.reduce(applyByteOp, zipOf(ops.reduce(applyZipOp, seed))));
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(rssPeak - rssStart).toBeLessThan(RSS_BOUND);
  }, 600_000);
});
