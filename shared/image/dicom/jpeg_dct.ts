/**
 * A small sequential-DCT JPEG decoder (ISO 10918-1 processes 1, 2 and 4: Huffman coded,
 * baseline and extended, 8 and 12-bit samples), written here because no maintained npm
 * package decodes 12-bit JPEG (DICOM "JPEG Extended", 1.2.840.10008.1.2.4.51): jpeg-js and
 * libjpeg-turbo's 8-bit build stop at 8 bits. Progressive and arithmetic-coded JPEG are
 * refused. No colour transform: components come back as coded (the caller knows the
 * photometric interpretation); subsampled components are replicated to full size.
 * The inverse DCT is the exact separable one in double precision, then rounded.
 */
import { MedclassError } from '../../errors.ts';
import { formatCount } from '../../format.ts';

export interface DctImage {
  width: number;
  height: number;
  components: number;
  precision: number;
  /** Samples, interleaved by pixel. */
  data: Uint16Array;
}

const corrupt = (message: string) => new MedclassError('corruptImage', `JPEG (DCT) stream: ${message}`);

const ZIGZAG = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42,
  49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

/** IDCT basis: COS[x * 8 + u] = C(u) / 2 * cos((2x + 1) u pi / 16). */
const COS = (() => {
  const t = new Float64Array(64);
  for (let x = 0; x < 8; x++) {
    for (let u = 0; u < 8; u++) t[x * 8 + u] = (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
  }
  return t;
})();

interface Huffman {
  maxcode: Int32Array;
  valptr: Int32Array;
  mincode: Int32Array;
  values: Uint8Array;
}

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const maxcode = new Int32Array(18).fill(-1);
  const valptr = new Int32Array(17);
  const mincode = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    const n = counts[l - 1]!;
    if (n) {
      valptr[l] = k;
      mincode[l] = code;
      code += n;
      k += n;
      maxcode[l] = code - 1;
    }
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff;
  return { maxcode, valptr, mincode, values };
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  /** Blocks per line and column, padded to whole MCUs. */
  bpl: number;
  bpc: number;
  /** Dequantised coefficients, 64 per block. */
  coefficients: Float64Array;
  pred: number;
  dc?: Huffman;
  ac?: Huffman;
}

class BitReader {
  private bits = 0;
  private count = 0;
  private padding = 0;
  constructor(
    private readonly d: Uint8Array,
    public p: number,
  ) {}

  private fill(): void {
    let byte = 0;
    if (this.p < this.d.length) {
      const b = this.d[this.p]!;
      if (b === 0xff) {
        const next = this.d[this.p + 1];
        if (next === 0) {
          byte = 0xff;
          this.p += 2;
        } else this.padding++; // a marker: feed zeros, leave it for the caller
      } else {
        byte = b;
        this.p++;
      }
    } else this.padding++;
    if (this.padding > 64) throw corrupt('entropy-coded data ends before the image is complete');
    this.bits = (this.bits << 8) | byte;
    this.count += 8;
  }

  bit(): number {
    if (this.count === 0) this.fill();
    this.count--;
    return (this.bits >> this.count) & 1;
  }

  receive(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | this.bit();
    return v;
  }

  decode(t: Huffman): number {
    let code = this.bit();
    let l = 1;
    while (code > t.maxcode[l]!) {
      code = (code << 1) | this.bit();
      if (++l > 16) throw corrupt('invalid Huffman code');
    }
    return t.values[t.valptr[l]! + code - t.mincode[l]!]!;
  }

  /** Drops buffered bits and consumes an expected restart marker. */
  restart(): void {
    this.bits = 0;
    this.count = 0;
    this.padding = 0;
    while (this.p + 1 < this.d.length && !(this.d[this.p] === 0xff && this.d[this.p + 1]! >= 0xd0 && this.d[this.p + 1]! <= 0xd7)) this.p++;
    if (this.p + 1 >= this.d.length) throw corrupt('restart marker missing');
    this.p += 2;
  }
}

const extend = (v: number, s: number) => (s === 0 ? 0 : v < 1 << (s - 1) ? v - (1 << s) + 1 : v);

export function decodeDct(d: Uint8Array, maxPixels: number): DctImage {
  const u16 = (p: number) => (d[p]! << 8) | d[p + 1]!;
  if (d.length < 4 || u16(0) !== 0xffd8) throw corrupt('no SOI marker');
  const qt: Float64Array[] = [];
  const dcTables: Huffman[] = [];
  const acTables: Huffman[] = [];
  let restartInterval = 0;
  let frame: { precision: number; width: number; height: number; comps: Component[]; hmax: number; vmax: number; mcusX: number; mcusY: number } | undefined;
  let p = 2;
  let scans = 0;

  for (;;) {
    while (p < d.length && d[p] !== 0xff) p++; // skip anything between segments
    while (p < d.length && d[p] === 0xff && d[p + 1] === 0xff) p++;
    if (p + 1 >= d.length) break;
    const marker = d[p + 1]!;
    p += 2;
    if (marker === 0xd9) break; // EOI
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (p + 2 > d.length) throw corrupt('truncated marker segment');
    const length = u16(p);
    const end = p + length;
    if (length < 2 || end > d.length) throw corrupt(`marker 0xff${marker.toString(16)} segment overruns the stream`);
    const seg = p + 2;
    switch (marker) {
      case 0xdb: {
        for (let q = seg; q < end; ) {
          const pq = d[q]! >> 4;
          const tq = d[q]! & 15;
          const table = new Float64Array(64);
          for (let k = 0; k < 64; k++) table[k] = pq ? u16(q + 1 + 2 * k) : d[q + 1 + k]!;
          qt[tq] = table;
          q += 1 + 64 * (pq ? 2 : 1);
        }
        break;
      }
      case 0xc4: {
        for (let q = seg; q < end; ) {
          const tc = d[q]! >> 4;
          const th = d[q]! & 15;
          const counts = d.subarray(q + 1, q + 17);
          let total = 0;
          for (const c of counts) total += c;
          if (q + 17 + total > end) throw corrupt('Huffman table overruns its segment');
          const table = buildHuffman(counts, d.slice(q + 17, q + 17 + total));
          (tc === 0 ? dcTables : acTables)[th] = table;
          q += 17 + total;
        }
        break;
      }
      case 0xdd:
        restartInterval = u16(seg);
        break;
      case 0xc0:
      case 0xc1: {
        const precision = d[seg]!;
        const height = u16(seg + 1);
        const width = u16(seg + 3);
        const n = d[seg + 5]!;
        if (precision !== 8 && precision !== 12) throw corrupt(`${precision}-bit samples (only 8 and 12 are defined for DCT)`);
        if (!width || !height) throw corrupt(`frame of ${width}x${height} pixels (a DNL marker is not supported)`);
        if (width * height > maxPixels) {
          throw new MedclassError('imageTooLarge', `JPEG frame declares ${width}x${height} pixels, more than the limit of ${formatCount(maxPixels)}`);
        }
        const raw = [];
        let hmax = 1;
        let vmax = 1;
        for (let i = 0; i < n; i++) {
          const c = seg + 6 + 3 * i;
          const h = d[c + 1]! >> 4;
          const v = d[c + 1]! & 15;
          if (h < 1 || h > 4 || v < 1 || v > 4) throw corrupt('invalid sampling factors');
          raw.push({ id: d[c]!, h, v, tq: d[c + 2]! });
          hmax = Math.max(hmax, h);
          vmax = Math.max(vmax, v);
        }
        const mcusX = Math.ceil(width / (8 * hmax));
        const mcusY = Math.ceil(height / (8 * vmax));
        const comps = raw.map((c) => {
          const bpl = mcusX * c.h;
          const bpc = mcusY * c.v;
          return { ...c, bpl, bpc, coefficients: new Float64Array(bpl * bpc * 64), pred: 0 };
        });
        frame = { precision, width, height, comps, hmax, vmax, mcusX, mcusY };
        break;
      }
      case 0xc2:
      case 0xc6:
      case 0xca:
      case 0xce:
        throw new MedclassError('unsupportedFormat', 'progressive JPEG is not supported (retired in DICOM)');
      case 0xc3:
      case 0xc5:
      case 0xc7:
      case 0xc9:
      case 0xcb:
      case 0xcd:
      case 0xcf:
        throw new MedclassError('unsupportedFormat', `JPEG process with marker 0xff${marker.toString(16)} is not supported by the DCT decoder`);
      case 0xda: {
        if (!frame) throw corrupt('scan before the frame header');
        const ns = d[seg]!;
        const scanComps: Component[] = [];
        for (let i = 0; i < ns; i++) {
          const id = d[seg + 1 + 2 * i]!;
          const sel = d[seg + 2 + 2 * i]!;
          const comp = frame.comps.find((c) => c.id === id);
          if (!comp) throw corrupt(`scan names unknown component ${id}`);
          comp.dc = dcTables[sel >> 4];
          comp.ac = acTables[sel & 15];
          if (!comp.dc || !comp.ac) throw corrupt(`scan uses an undefined Huffman table for component ${id}`);
          if (!qt[comp.tq]) throw corrupt(`component ${id} uses undefined quantisation table ${comp.tq}`);
          comp.pred = 0;
          scanComps.push(comp);
        }
        p = decodeScan(d, end, frame, scanComps, qt, restartInterval);
        scans++;
        continue;
      }
      default:
        break; // APPn, COM, DNL and others: skipped
    }
    p = end;
  }
  if (!frame) throw corrupt('no frame header (SOF0 or SOF1)');
  if (!scans) throw corrupt('no scan');
  return assemble(frame);
}

function decodeScan(
  d: Uint8Array,
  start: number,
  frame: { comps: Component[]; mcusX: number; mcusY: number; width: number; height: number; hmax: number; vmax: number },
  comps: Component[],
  qt: Float64Array[],
  restartInterval: number,
): number {
  const r = new BitReader(d, start);
  const decodeBlock = (c: Component, blockIndex: number) => {
    const out = c.coefficients;
    const base = blockIndex * 64;
    const q = qt[c.tq]!;
    const t = r.decode(c.dc!);
    if (t > 16) throw corrupt('DC difference category out of range');
    c.pred += extend(r.receive(t), t);
    out[base] = c.pred * q[0]!;
    for (let k = 1; k < 64; ) {
      const rs = r.decode(c.ac!);
      const s = rs & 15;
      const run = rs >> 4;
      if (s === 0) {
        if (run !== 15) break;
        k += 16;
        continue;
      }
      k += run;
      if (k > 63) throw corrupt('AC coefficient index past 63');
      out[base + ZIGZAG[k]!] = extend(r.receive(s), s) * q[k]!;
      k++;
    }
  };
  let mcu = 0;
  const single = comps.length === 1;
  const c0 = comps[0]!;
  // a non-interleaved scan covers only the component's own blocks, not the MCU padding
  const total = single
    ? Math.ceil(Math.ceil((frame.width * c0.h) / frame.hmax) / 8) * Math.ceil(Math.ceil((frame.height * c0.v) / frame.vmax) / 8)
    : frame.mcusX * frame.mcusY;
  const singleWidth = Math.ceil(Math.ceil((frame.width * c0.h) / frame.hmax) / 8);
  for (; mcu < total; mcu++) {
    if (restartInterval && mcu > 0 && mcu % restartInterval === 0) {
      r.restart();
      for (const c of comps) c.pred = 0;
    }
    if (single) {
      const row = Math.floor(mcu / singleWidth);
      const col = mcu % singleWidth;
      decodeBlock(c0, row * c0.bpl + col);
    } else {
      const my = Math.floor(mcu / frame.mcusX);
      const mx = mcu % frame.mcusX;
      for (const c of comps) {
        for (let v = 0; v < c.v; v++) {
          for (let h = 0; h < c.h; h++) decodeBlock(c, (my * c.v + v) * c.bpl + mx * c.h + h);
        }
      }
    }
  }
  // continue at the next marker that is not a restart marker
  let p = r.p;
  while (p + 1 < d.length && !(d[p] === 0xff && d[p + 1] !== 0 && !(d[p + 1]! >= 0xd0 && d[p + 1]! <= 0xd7))) p++;
  return p;
}

function assemble(frame: { precision: number; width: number; height: number; comps: Component[]; hmax: number; vmax: number }): DctImage {
  const { width, height, comps, hmax, vmax, precision } = frame;
  const n = comps.length;
  const data = new Uint16Array(width * height * n);
  const shift = 1 << (precision - 1);
  const max = (1 << precision) - 1;
  const tmp = new Float64Array(64);
  comps.forEach((c, ci) => {
    const planeW = c.bpl * 8;
    const plane = new Uint16Array(planeW * c.bpc * 8);
    const coef = c.coefficients;
    for (let b = 0; b < c.bpl * c.bpc; b++) {
      const base = b * 64;
      // rows: tmp[y][x] = sum_u COS[x][u] F[y][u]
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          let s = 0;
          for (let u = 0; u < 8; u++) s += COS[x * 8 + u]! * coef[base + y * 8 + u]!;
          tmp[y * 8 + x] = s;
        }
      }
      const by = Math.floor(b / c.bpl) * 8;
      const bx = (b % c.bpl) * 8;
      for (let x = 0; x < 8; x++) {
        for (let y = 0; y < 8; y++) {
          let s = 0;
          for (let v = 0; v < 8; v++) s += COS[y * 8 + v]! * tmp[v * 8 + x]!;
          const value = Math.round(s + shift);
          plane[(by + y) * planeW + bx + x] = value < 0 ? 0 : value > max ? max : value;
        }
      }
    }
    for (let y = 0; y < height; y++) {
      const sy = Math.floor((y * c.v) / vmax);
      for (let x = 0; x < width; x++) data[(y * width + x) * n + ci] = plane[sy * planeW + Math.floor((x * c.h) / hmax)]!;
    }
  });
  return { width, height, components: n, precision, data };
}
