import { hogGeometry } from '../spec.ts';

export interface HogParams {
  orientations: number;
  pixelsPerCell: number;
  cellsPerBlock: number;
}

const EPS = 1e-5;

/**
 * Bin of a gradient exactly as scikit-image decides it: theta = degrees(atan2(gy, gx)) mod 180
 * in double (numpy's floor-mod), bin i where (180/n) i <= theta < (180/n) (i + 1), and no bin
 * at all when the mod rounds up to 180. Returns -1 for no bin.
 */
export function referenceBin(gx: number, gy: number, n: number): number {
  let t = Math.atan2(gy, gx) * (180 / Math.PI);
  if (t < 0) t += 180;
  const width = 180 / n;
  for (let i = 0; i < n; i++) if (width * i <= t && t < width * (i + 1)) return i;
  return -1;
}

// atan(r) on [-1, 1] to within 1e-5 rad (Abramowitz and Stegun 4.4.49).
const A1 = 0.999866;
const A3 = -0.3302995;
const A5 = 0.180141;
const A7 = -0.085133;
const A9 = 0.0208351;
/**
 * Fractions of a bin within which the approximate angle could sit on the wrong side of an
 * edge: 1e-5 rad is at most 1.2e-4 of a bin for 36 orientations, so this leaves room eightfold.
 */
const NEAR_EDGE = 1e-3;

/**
 * The bin of any gradient where the approximate angle cannot decide: none for a zero
 * gradient, 0 for gy == 0 (atan2(0, x) mod 180 is 0 for either sign of x), else the reference.
 */
function exactBin(gx: number, gy: number, n: number): number {
  if (gy === 0) return gx === 0 ? -1 : 0;
  return referenceBin(gx, gy, n);
}

/**
 * The bin of a gradient: an approximate arctangent places it, and only where that lands
 * near a bin edge (or is undefined) does exactBin decide, so every gradient goes exactly
 * where scikit-image puts it. No data-dependent branch on the common path: the quadrant of
 * an image's gradients is close to random. (cellHistograms inlines the same steps.)
 */
export function fastBin(gx: number, gy: number, n: number): number {
  const ax = Math.abs(gx);
  const ay = Math.abs(gy);
  // atan(ay / ax) = pi/4 + atan((ay - ax) / (ay + ax)): one polynomial for every quadrant
  const r = (ay - ax) / (ay + ax);
  const r2 = r * r;
  const t = Math.PI / 4 + r * (A1 + r2 * (A3 + r2 * (A5 + r2 * (A7 + r2 * A9))));
  // theta mod 180 is t where the signs of gx and gy agree, 180 - t where they differ
  const flip = +(gx * gy < 0);
  const u = flip * n + (1 - 2 * flip) * t * (n / Math.PI);
  const bin = Math.floor(u);
  const frac = u - bin;
  return frac >= NEAR_EDGE && frac <= 1 - NEAR_EDGE ? bin : exactBin(gx, gy, n);
}

interface Scratch {
  key: string;
  hist: Float64Array;
  /** Histogram offset of each column's cell, so the hot loop divides nothing. */
  columnCell: Int32Array;
  block: Float64Array;
}
let scratch: Scratch | null = null;

/** Working buffers for one geometry, kept between calls: a batch of one would spend as long allocating them. */
function scratchFor(g: { cellsY: number; cellsX: number }, p: HogParams): Scratch {
  const key = `${g.cellsY} ${g.cellsX} ${p.pixelsPerCell} ${p.cellsPerBlock} ${p.orientations}`;
  if (scratch?.key !== key) {
    const n = p.orientations;
    const columnCell = new Int32Array(g.cellsX * p.pixelsPerCell);
    for (let c = 0; c < columnCell.length; c++) columnCell[c] = Math.floor(c / p.pixelsPerCell) * n;
    scratch = { key, hist: new Float64Array(g.cellsY * g.cellsX * n), columnCell, block: new Float64Array(p.cellsPerBlock ** 2 * n) };
  }
  return scratch;
}

/**
 * HOG of a batch of `height x width` images (docs/features.md section 2), as `skimage.feature.hog`
 * with L2-Hys block norm. `images` holds the batch row-major; returns `batch x length`.
 */
export function hogImpl(images: Float32Array, batch: number, height: number, width: number, p: HogParams): Float32Array {
  const n = p.orientations;
  const cell = p.pixelsPerCell;
  const g = hogGeometry(height, width, p);
  const out = new Float32Array(batch * g.length);
  if (g.length === 0) return out;
  const { hist, columnCell, block } = scratchFor(g, p);
  for (let k = 0; k < batch; k++) {
    cellHistograms(images, k * height * width, height, width, g.cellsY, cell, n, columnCell, hist);
    normaliseBlocks(hist, cell * cell, g, p.cellsPerBlock, n, block, out, k * g.length);
  }
  return out;
}

/**
 * Per cell and bin, the sum of gradient magnitudes (normaliseBlocks divides by the cell's
 * area; nothing runs here after the loops, which V8 would compile without type feedback and
 * throw away on every call): gradients by central differences, zero on the image's first
 * and last rows and columns.
 */
function cellHistograms(
  v: Float32Array,
  base: number,
  height: number,
  width: number,
  cellsY: number,
  cell: number,
  n: number,
  columnCell: Int32Array,
  hist: Float64Array,
): void {
  hist.fill(0);
  const rows = cellsY * cell;
  const cols = columnCell.length;
  const rowStride = (cols / cell) * n;
  const scale = n / Math.PI;
  // The pixels with both neighbours in both directions: no border tests in the hot loop.
  const r1 = Math.min(rows, height - 1);
  const c1 = Math.min(cols, width - 1);
  for (let r = 1; r < r1; r++) {
    const row = base + r * width;
    const h0 = Math.floor(r / cell) * rowStride;
    for (let c = 1; c < c1; c++) {
      const i = row + c;
      const gx = v[i + 1]! - v[i - 1]!;
      const gy = v[i + width]! - v[i - width]!;
      const ax = Math.abs(gx);
      const ay = Math.abs(gy);
      const q = (ay - ax) / (ay + ax);
      const q2 = q * q;
      const t = Math.PI / 4 + q * (A1 + q2 * (A3 + q2 * (A5 + q2 * (A7 + q2 * A9))));
      const flip = +(gx * gy < 0);
      const u = flip * n + (1 - 2 * flip) * t * scale;
      let bin = Math.floor(u);
      const frac = u - bin;
      if (!(frac >= NEAR_EDGE && frac <= 1 - NEAR_EDGE)) {
        bin = exactBin(gx, gy, n);
        if (bin < 0) continue;
      }
      hist[h0 + columnCell[c]! + bin]! += Math.sqrt(gx * gx + gy * gy);
    }
  }
  // The frame of the cell grid: the image's border pixels, and the rest where the grid
  // reaches the image's edge.
  for (let r = 0; r < rows; r++) {
    const edgeRow = r === 0 || r >= r1;
    const h0 = Math.floor(r / cell) * rowStride;
    for (let c = 0; c < cols; c += edgeRow || c >= c1 - 1 ? 1 : Math.max(1, c1 - 1)) {
      if (!edgeRow && c > 0 && c < c1) continue;
      const i = base + r * width + c;
      const gx = c > 0 && c < width - 1 ? v[i + 1]! - v[i - 1]! : 0;
      const gy = r > 0 && r < height - 1 ? v[i + width]! - v[i - width]! : 0;
      const bin = fastBin(gx, gy, n);
      if (bin >= 0) hist[h0 + columnCell[c]! + bin]! += Math.sqrt(gx * gx + gy * gy);
    }
  }
}

/** Cell means, then L2-Hys over every block of `b x b` cells, stride one cell, in skimage's order. */
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
  let o = offset;
  for (let by = 0; by < g.blocksY; by++) {
    for (let bx = 0; bx < g.blocksX; bx++) {
      let j = 0;
      let sum = 0;
      for (let cy = 0; cy < b; cy++) {
        const start = ((by + cy) * g.cellsX + bx) * n;
        for (let t = start; t < start + b * n; t++) {
          const x = hist[t]! / area;
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
