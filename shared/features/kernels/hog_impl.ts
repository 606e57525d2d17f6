import { hogGeometry } from '../spec.ts';

export interface HogParams {
  orientations: number;
  pixelsPerCell: number;
  cellsPerBlock: number;
}

const EPS = 1e-5;
/** Below this |sin| between a gradient and a bin edge the fast test may disagree with the reference angle. */
const TIE = 1e-9;

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

/** Unit vectors of the bin edges 1..n-1, with the exact directions where they exist. */
function edgeDirections(n: number): { cos: Float64Array; sin: Float64Array } {
  const cos = new Float64Array(n);
  const sin = new Float64Array(n);
  for (let i = 1; i < n; i++) {
    const deg = (180 / n) * i;
    const exact: Record<number, [number, number]> = { 45: [Math.SQRT1_2, Math.SQRT1_2], 90: [0, 1], 135: [-Math.SQRT1_2, Math.SQRT1_2] };
    const [c, s] = exact[deg] ?? [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)];
    cos[i] = c;
    sin[i] = s;
  }
  return { cos, sin };
}

/** Reusable buffers, so a batch allocates once. */
interface Scratch {
  mag: Float64Array;
  bin: Int8Array;
  hist: Float64Array;
}

/**
 * HOG of a batch of `height x width` images (FEATURES.md section 2), as `skimage.feature.hog`
 * with L2-Hys block norm. `images` holds the batch row-major; returns `batch x length`.
 *
 * The bin is found without an arctangent: a gradient folded into the upper half-plane lies
 * above edge i when its cross product with the edge direction is positive. Where that
 * product is within rounding of zero, the reference's double-precision angle decides.
 */
export function hogImpl(images: Float32Array, batch: number, height: number, width: number, p: HogParams): Float32Array {
  const n = p.orientations;
  const cell = p.pixelsPerCell;
  const b = p.cellsPerBlock;
  const g = hogGeometry(height, width, p);
  const out = new Float32Array(batch * g.length);
  if (g.length === 0) return out;
  const rows = g.cellsY * cell;
  const cols = g.cellsX * cell;
  const scratch: Scratch = {
    mag: new Float64Array(rows * cols),
    bin: new Int8Array(rows * cols),
    hist: new Float64Array(g.cellsY * g.cellsX * n),
  };
  const edges = edgeDirections(n);
  const blockValues = new Float64Array(b * b * n);
  for (let k = 0; k < batch; k++) {
    gradientBins(images, k * height * width, height, width, rows, cols, n, edges, scratch);
    cellHistograms(scratch, g.cellsY, g.cellsX, cell, cols, n);
    normaliseBlocks(scratch.hist, g, b, n, blockValues, out, k * g.length);
  }
  return out;
}

function gradientBins(
  v: Float32Array,
  base: number,
  height: number,
  width: number,
  rows: number,
  cols: number,
  n: number,
  edges: { cos: Float64Array; sin: Float64Array },
  { mag, bin }: Scratch,
): void {
  const ec = edges.cos;
  const es = edges.sin;
  for (let r = 0; r < rows; r++) {
    const row = base + r * width;
    const up = r > 0 ? row - width : -1;
    const down = r < height - 1 ? row + width : -1;
    for (let c = 0; c < cols; c++) {
      const i = row + c;
      const gx = c > 0 && c < width - 1 ? v[i + 1]! - v[i - 1]! : 0;
      const gy = up >= 0 && down >= 0 ? v[down + c]! - v[up + c]! : 0;
      const o = r * cols + c;
      const m2 = gx * gx + gy * gy;
      mag[o] = Math.sqrt(m2);
      if (m2 === 0 || gy === 0) {
        bin[o] = 0; // atan2(0, x) mod 180 is 0 for either sign of x
        continue;
      }
      // Fold into the upper half-plane: theta mod 180 is unchanged.
      const x = gy < 0 ? -gx : gx;
      const y = gy < 0 ? -gy : gy;
      const tie = TIE * Math.sqrt(m2);
      if (y <= tie) {
        bin[o] = referenceBin(gx, gy, n); // near 0 or 180, where the mod may round up to 180
        continue;
      }
      let k = 0;
      let exact = true;
      for (let e = 1; e < n; e++) {
        const cross = ec[e]! * y - es[e]! * x;
        if (cross > tie) k = e;
        else {
          if (cross >= -tie) exact = false;
          break;
        }
      }
      bin[o] = exact ? k : referenceBin(gx, gy, n);
    }
  }
}

function cellHistograms({ mag, bin, hist }: Scratch, cellsY: number, cellsX: number, cell: number, cols: number, n: number): void {
  hist.fill(0);
  const area = cell * cell;
  for (let r = 0; r < cellsY * cell; r++) {
    const cy = ((r / cell) | 0) * cellsX;
    const row = r * cols;
    for (let c = 0; c < cellsX * cell; c++) {
      const k = bin[row + c]!;
      if (k >= 0) hist[(cy + ((c / cell) | 0)) * n + k]! += mag[row + c]!;
    }
  }
  for (let i = 0; i < hist.length; i++) hist[i]! /= area;
}

function normaliseBlocks(
  hist: Float64Array,
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
