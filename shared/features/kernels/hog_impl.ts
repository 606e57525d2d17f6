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

// atan(r) on [0, 1] to within 1e-5 rad (Abramowitz and Stegun 4.4.49).
const A1 = 0.9998660;
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
 * The bin of a non-zero gradient (gy != 0): an approximate arctangent places it, and only
 * where that lands near a bin edge does the reference's double-precision angle decide, so
 * every gradient goes exactly where scikit-image puts it.
 */
export function fastBin(gx: number, gy: number, n: number): number {
  const ax = gx < 0 ? -gx : gx;
  const ay = gy < 0 ? -gy : gy;
  const steep = ay > ax;
  const r = steep ? ax / ay : ay / ax;
  const r2 = r * r;
  let t = r * (A1 + r2 * (A3 + r2 * (A5 + r2 * (A7 + r2 * A9))));
  if (steep) t = Math.PI / 2 - t;
  // t = atan(|gy| / |gx|); theta mod 180 is t where the signs agree, 180 - t where they differ
  let u = t * (n / Math.PI);
  if ((gx < 0) !== (gy < 0)) u = n - u;
  const bin = Math.floor(u);
  const frac = u - bin;
  return frac < NEAR_EDGE || frac > 1 - NEAR_EDGE ? referenceBin(gx, gy, n) : bin;
}

/**
 * HOG of a batch of `height x width` images (FEATURES.md section 2), as `skimage.feature.hog`
 * with L2-Hys block norm. `images` holds the batch row-major; returns `batch x length`.
 */
export function hogImpl(images: Float32Array, batch: number, height: number, width: number, p: HogParams): Float32Array {
  const n = p.orientations;
  const cell = p.pixelsPerCell;
  const g = hogGeometry(height, width, p);
  const out = new Float32Array(batch * g.length);
  if (g.length === 0) return out;
  const hist = new Float64Array(g.cellsY * g.cellsX * n);
  // histogram offset of each column's cell, so the hot loop divides nothing
  const columnCell = new Int32Array(g.cellsX * cell);
  for (let c = 0; c < columnCell.length; c++) columnCell[c] = Math.floor(c / cell) * n;
  const block = new Float64Array(p.cellsPerBlock ** 2 * n);
  for (let k = 0; k < batch; k++) {
    cellHistograms(images, k * height * width, height, width, g.cellsY, cell, n, columnCell, hist);
    normaliseBlocks(hist, cell * cell, g, p.cellsPerBlock, n, block, out, k * g.length);
  }
  return out;
}

/**
 * Per cell and bin, the sum of gradient magnitudes (normaliseBlocks divides by the cell's
 * area; nothing runs here after the loop, which V8 would compile without type feedback and
 * throw away on every call): gradients by central differences (zero on
 * the image's first and last rows and columns), each pixel's magnitude added to its bin.
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
  const cols = columnCell.length;
  const rowStride = (cols / cell) * n;
  for (let r = 0; r < cellsY * cell; r++) {
    const row = base + r * width;
    const hasGy = r > 0 && r < height - 1;
    const h0 = Math.floor(r / cell) * rowStride;
    for (let c = 0; c < cols; c++) {
      const i = row + c;
      const gx = c > 0 && c < width - 1 ? v[i + 1]! - v[i - 1]! : 0;
      const gy = hasGy ? v[i + width]! - v[i - width]! : 0;
      if (gy === 0) {
        // atan2(0, x) mod 180 is 0 for either sign of x
        hist[h0 + columnCell[c]!]! += gx < 0 ? -gx : gx;
        continue;
      }
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
