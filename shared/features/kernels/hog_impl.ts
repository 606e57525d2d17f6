import { hogGeometry } from '../spec.ts';
import { A1, A3, A5, A7, A9, exactBin, fastBin, NEAR_EDGE } from './hog_bins.ts';
import { hogWasm } from './hog_wasm.ts';
import { reserveMemory } from '../../wasm/assemble.ts';

export interface HogParams {
  orientations: number;
  pixelsPerCell: number;
  cellsPerBlock: number;
}

const EPS = 1e-5;

interface Scratch {
  key: string;
  hist: Float64Array;
  /** Per pixel of the cell grid, row-major: the histogram slot its gradient adds to, and the magnitude it adds. */
  slot: Int32Array;
  magnitude: Float64Array;
  /** Pixels whose approximate angle sits too near a bin edge to decide: exactBin decides them after the pass. */
  undecided: Int32Array;
  block: Float64Array;
  /** Where the WebAssembly pass runs: the byte offsets of the buffers above in its memory (they are views of it), and of the image. */
  wasm: { image: Float32Array; out: Float32Array; img: number; slot: number; mag: number; colOff: number; rowOff: number; undecided: number; hist: number; block: number; outAt: number } | null;
}
let scratch: Scratch | null = null;

/**
 * Working buffers for one geometry, kept between calls: a batch of one would spend as long
 * allocating them. In the WebAssembly instance's memory where it runs, with the slot
 * offsets of each row's and column's cell laid out for it.
 */
function scratchFor(g: { cellsY: number; cellsX: number; length: number }, p: HogParams, height: number, width: number): Scratch {
  const key = `${height} ${width} ${p.pixelsPerCell} ${p.cellsPerBlock} ${p.orientations}`;
  if (scratch?.key === key) return scratch;
  const n = p.orientations;
  const cell = p.pixelsPerCell;
  const rows = g.cellsY * cell;
  const cols = g.cellsX * cell;
  // two spare entries: the wasm pass goes two columns at a time
  const pixels = rows * cols + 2;
  const bins = g.cellsY * g.cellsX * n;
  const block = new Float64Array(p.cellsPerBlock ** 2 * n);
  const wasm = hogWasm();
  if (!wasm) {
    scratch = { key, hist: new Float64Array(bins), slot: new Int32Array(pixels), magnitude: new Float64Array(pixels), undecided: new Int32Array(pixels), block, wasm: null };
    return scratch;
  }
  const at = (() => {
    let next = 0;
    return (bytes: number) => {
      const offset = next;
      next += Math.ceil(bytes / 16) * 16;
      return offset;
    };
  })();
  const img = at(height * width * 4);
  const slot = at(pixels * 4);
  const mag = at(pixels * 8);
  const colOff = at((cols + 2) * 4);
  const rowOff = at(rows * 4);
  const undecided = at(pixels * 4);
  const hist = at(bins * 8);
  const blockAt = at(block.length * 8);
  const outAt = at(g.length * 4);
  reserveMemory(wasm.memory, at(0));
  const buffer = wasm.memory.buffer;
  const columns = new Int32Array(buffer, colOff, cols + 2);
  for (let c = 0; c < cols + 2; c++) columns[c] = Math.min(Math.floor(c / cell), g.cellsX - 1) * n;
  const rowCells = new Int32Array(buffer, rowOff, rows);
  for (let r = 0; r < rows; r++) rowCells[r] = Math.floor(r / cell) * g.cellsX * n;
  scratch = {
    key,
    hist: new Float64Array(buffer, hist, bins),
    slot: new Int32Array(buffer, slot, pixels),
    magnitude: new Float64Array(buffer, mag, pixels),
    undecided: new Int32Array(buffer, undecided, pixels),
    block,
    wasm: { image: new Float32Array(buffer, img, height * width), out: new Float32Array(buffer, outAt, g.length), img, slot, mag, colOff, rowOff, undecided, hist, block: blockAt, outAt },
  };
  return scratch;
}

/**
 * HOG of a batch of `height x width` images (docs/features.md section 2), as `skimage.feature.hog`
 * with L2-Hys block norm. `images` holds the batch row-major; returns `batch x length`.
 */
export function hogImpl(images: Float32Array, batch: number, height: number, width: number, p: HogParams, useWasm = true): Float32Array {
  const n = p.orientations;
  const cell = p.pixelsPerCell;
  const g = hogGeometry(height, width, p);
  const out = new Float32Array(batch * g.length);
  if (g.length === 0) return out;
  const s = scratchFor(g, p, height, width);
  const rows = g.cellsY * cell;
  const cols = g.cellsX * cell;
  const r1 = Math.min(rows, height - 1);
  const c1 = Math.min(cols, width - 1);
  const wasm = s.wasm && useWasm ? hogWasm() : null;
  for (let k = 0; k < batch; k++) {
    const base = k * height * width;
    let undecided: number;
    if (wasm && s.wasm) {
      const w = s.wasm;
      w.image.set(images.subarray(base, base + height * width));
      undecided = wasm.interior(w.img, width, r1, c1, cols, w.slot, w.mag, w.colOff, w.rowOff, w.undecided, n, n / Math.PI);
    } else undecided = gradientBins(images, base, width, r1, c1, cols, cell, n, s.slot, s.magnitude, s.undecided);
    decideNearEdges(images, base, width, cols, cell, n, s.undecided, undecided, s.slot, s.magnitude);
    gradientFrame(images, base, height, width, rows, cols, cell, n, s.slot, s.magnitude);
    if (wasm && s.wasm) {
      const w = s.wasm;
      wasm.scatter(w.slot, w.mag, rows * cols, w.hist, s.hist.length);
      wasm.normalise(w.hist, s.hist.length, g.cellsX, g.blocksY, g.blocksX, p.cellsPerBlock, n, cell * cell, w.block, w.outAt);
      out.set(w.out, k * g.length);
    } else {
      scatter(s.slot, s.magnitude, rows * cols, s.hist);
      normaliseBlocks(s.hist, cell * cell, g, p.cellsPerBlock, n, s.block, out, k * g.length);
    }
  }
  return out;
}

/** Histogram slot of pixel (r, c): its cell's first bin. */
const cellSlot = (r: number, c: number, cell: number, cols: number, n: number): number => (Math.floor(r / cell) * (cols / cell) + Math.floor(c / cell)) * n;

/**
 * The hot pass, over the pixels with both neighbours in both directions (no border tests):
 * central differences, the approximate bin and the magnitude, written per pixel for the
 * scatter. Nothing in it calls out, so V8 keeps the polynomial's constants in registers and
 * the loop short enough for the CPU to overlap several pixels' divide and square root; the
 * few pixels too near a bin edge are listed for decideNearEdges. Returns how many.
 */
function gradientBins(
  v: Float32Array,
  base: number,
  width: number,
  r1: number,
  c1: number,
  cols: number,
  cell: number,
  n: number,
  slot: Int32Array,
  magnitude: Float64Array,
  undecided: Int32Array,
): number {
  const scale = n / Math.PI;
  let count = 0;
  for (let r = 1; r < r1; r++) {
    const row = base + r * width;
    const o = r * cols;
    for (let c = 1; c < c1; c++) {
      const i = row + c;
      const gx = v[i + 1]! - v[i - 1]!;
      const gy = v[i + width]! - v[i - width]!;
      const ax = Math.abs(gx);
      const ay = Math.abs(gy);
      // atan(ay / ax) = pi/4 + atan((ay - ax) / (ay + ax)): one polynomial for every quadrant
      const q = (ay - ax) / (ay + ax);
      const q2 = q * q;
      const t = Math.PI / 4 + q * (A1 + q2 * (A3 + q2 * (A5 + q2 * (A7 + q2 * A9))));
      // theta mod 180 is t where the signs of gx and gy agree, 180 - t where they differ
      const flip = +(gx * gy < 0);
      const u = flip * n + (1 - 2 * flip) * t * scale;
      const bin = Math.floor(u);
      const frac = u - bin;
      if (!(frac >= NEAR_EDGE && frac <= 1 - NEAR_EDGE)) undecided[count++] = o + c;
      slot[o + c] = bin;
      magnitude[o + c] = Math.sqrt(gx * gx + gy * gy);
    }
  }
  for (let r = 1; r < r1; r++) {
    const o = r * cols;
    const rowSlot = Math.floor(r / cell) * (cols / cell) * n;
    for (let c = 1; c < c1; c++) slot[o + c] = slot[o + c]! + rowSlot + Math.floor(c / cell) * n;
  }
  return count;
}

/** The listed pixels' bins as exactBin decides them; a pixel with no bin adds nothing. */
function decideNearEdges(
  v: Float32Array,
  base: number,
  width: number,
  cols: number,
  cell: number,
  n: number,
  undecided: Int32Array,
  count: number,
  slot: Int32Array,
  magnitude: Float64Array,
): void {
  for (let k = 0; k < count; k++) {
    const p = undecided[k]!;
    const r = Math.floor(p / cols);
    const c = p - r * cols;
    const i = base + r * width + c;
    const bin = exactBin(v[i + 1]! - v[i - 1]!, v[i + width]! - v[i - width]!, n);
    slot[p] = cellSlot(r, c, cell, cols, n) + Math.max(bin, 0);
    if (bin < 0) magnitude[p] = 0;
  }
}

/**
 * The frame of the cell grid: the image's first and last rows and columns, and the rest
 * where the grid reaches the image's edge. Across an edge the gradient is zero, so every
 * frame pixel has gx or gy zero: gy zero is bin 0 (or none where gx is zero too), gx zero
 * the bin of 90 degrees, decided once per call.
 */
function gradientFrame(
  v: Float32Array,
  base: number,
  height: number,
  width: number,
  rows: number,
  cols: number,
  cell: number,
  n: number,
  slot: Int32Array,
  magnitude: Float64Array,
): void {
  const r1 = Math.min(rows, height - 1);
  const c1 = Math.min(cols, width - 1);
  const up = exactBin(0, 1, n);
  const down = exactBin(0, -1, n);
  const one = (r: number, c: number) => {
    const i = base + r * width + c;
    const gx = c > 0 && c < width - 1 ? v[i + 1]! - v[i - 1]! : 0;
    const gy = r > 0 && r < height - 1 ? v[i + width]! - v[i - width]! : 0;
    const bin = gy === 0 ? (gx === 0 ? -1 : 0) : gx === 0 ? (gy > 0 ? up : down) : fastBin(gx, gy, n);
    slot[r * cols + c] = cellSlot(r, c, cell, cols, n) + Math.max(bin, 0);
    magnitude[r * cols + c] = bin < 0 ? 0 : Math.sqrt(gx * gx + gy * gy);
  };
  for (let r = 0; r < rows; r++) {
    if (r === 0 || r >= r1) {
      for (let c = 0; c < cols; c++) one(r, c);
    } else {
      one(r, 0);
      for (let c = Math.max(c1, 1); c < cols; c++) one(r, c);
    }
  }
}

/**
 * Per cell and bin, the sum of gradient magnitudes, added in row-major order as
 * scikit-image's cell loop adds them (normaliseBlocks divides by the cell's area).
 */
function scatter(slot: Int32Array, magnitude: Float64Array, pixels: number, hist: Float64Array): void {
  hist.fill(0);
  for (let p = 0; p < pixels; p++) hist[slot[p]!]! += magnitude[p]!;
}

/** Cell means (in place), then L2-Hys over every block of `b x b` cells, stride one cell, in skimage's order. */
function normaliseBlocks(
  hist: Float64Array,
  area: number,
  g: { cellsX: number; blocksY: number; blocksX: number },
  b: number,
  n: number,
  block: Float64Array,
  out: Float32Array,
  offset: number,
): void {
  for (let t = 0; t < hist.length; t++) hist[t] = hist[t]! / area;
  let o = offset;
  for (let by = 0; by < g.blocksY; by++) {
    for (let bx = 0; bx < g.blocksX; bx++) {
      let j = 0;
      let sum = 0;
      for (let cy = 0; cy < b; cy++) {
        const start = ((by + cy) * g.cellsX + bx) * n;
        for (let t = start; t < start + b * n; t++) {
          const x = hist[t]!;
          block[j++] = x;
          sum += x * x;
        }
      }
      let scale = 1 / Math.sqrt(sum + EPS * EPS);
      sum = 0;
      for (let t = 0; t < j; t++) {
        const x = Math.min(block[t]! * scale, 0.2);
        block[t] = x;
        sum += x * x;
      }
      scale = 1 / Math.sqrt(sum + EPS * EPS);
      for (let t = 0; t < j; t++) out[o++] = block[t]! * scale;
    }
  }
}
