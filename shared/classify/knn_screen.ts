import { newWasmCross, TILE_COLS, TILE_ROWS, type WasmCross } from './gemm_wasm.ts';
import { productBackend, type Matrix } from './linalg.ts';

/**
 * KNN's screen in int16: each row a scaled to whole numbers q = round(a / alpha) with
 * alpha = max |a_k| / Q, so that a = alpha q + e, and the products of the int16 rows are
 * exact int32 sums (i32x4.dot_i16x8_s: twice the products per instruction of float32).
 * For a test row a and a training row b, with a^ = alpha_a q_a:
 *
 *   a.b - alpha_a alpha_b (q_a.q_b) = a^.e_b + e_a.b,  so  |error| <= |a^| |e_b| + |e_a| |b|
 *
 * (Cauchy-Schwarz), a bound made of numbers per row. Q keeps every int32 lane (and their
 * sum) below 2^31: at most `stride` products of at most Q^2 each.
 */

/** Per row: the scale, |a^| and |e| (both rounded up), for the bound above. */
export interface Quantised {
  alpha: Float64Array;
  norm: Float64Array;
  error: Float64Array;
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;
/** Elements per row in memory: whole 32-byte steps of sixteen int16 (the kernel goes two 16-byte steps at a time). */
const strideOf = (d: number) => roundUp(d, 16);
/** The largest |q|: stride * Q^2 < 2^31. */
export const quantMax = (d: number): number => Math.min(32767, Math.floor(Math.sqrt((2 ** 31 - 1) / strideOf(d))));
/** Relative allowance for the rounding of the double-precision sums of squares below. */
const UP = 1 + 1e-9;

/** Rows [r0, r1) of m as int16 into `heap` from element `at` (rows `stride` apart, padding zero), their stats into `stats` from row `s0`. */
function quantiseRows(m: Matrix, r0: number, r1: number, heap: Int16Array, at: number, stride: number, stats: Quantised, s0: number): void {
  const d = m.cols;
  const Q = quantMax(d);
  const x = m.data;
  for (let r = r0; r < r1; r++) {
    const base = r * d;
    const o = at + (r - r0) * stride;
    let max = 0;
    for (let k = 0; k < d; k++) max = Math.max(max, Math.abs(x[base + k]!));
    const alpha = max / Q;
    // any whole q keeps the bound (e is measured from it): a product, not a division
    const inverse = alpha > 0 ? Q / max : 0;
    let qq = 0;
    let ee = 0;
    let aa = 0;
    for (let k = 0; k < d; k++) {
      const v = x[base + k]!;
      const q = Math.max(-Q, Math.min(Q, Math.round(v * inverse)));
      heap[o + k] = q;
      qq += q * q;
      const e = v - alpha * q;
      ee += e * e;
      aa += v * v;
    }
    heap.fill(0, o + d, o + stride);
    const s = s0 + r - r0;
    stats.alpha[s] = alpha;
    stats.norm[s] = alpha * Math.sqrt(qq) * UP;
    // e's own rounding (alpha q and the difference, each within 2^-53 of |a_k| or so): 2^-50 |a| covers it
    stats.error[s] = Math.sqrt(ee) * UP + Math.sqrt(aa) * 2 ** -50 + 1e-300;
  }
}

const newStats = (rows: number): Quantised => ({ alpha: new Float64Array(rows), norm: new Float64Array(rows), error: new Float64Array(rows) });

/** A model's training rows in int16, resident in a WebAssembly instance of their own (the start of its memory). */
interface Resident {
  kernel: WasmCross;
  rows: number;
  nB: number;
  stride: number;
  stats: Quantised;
}
const residents = new WeakMap<Float64Array, Resident | null>();
/** Bytes of products and test rows per block. */
const SCRATCH_BYTES = 8 * 2 ** 20;
const PANEL = 64;

function residentFor(S: Matrix): Resident | null {
  const have = residents.get(S.data);
  if (have !== undefined && (have === null || have.rows === S.rows)) return have;
  const kernel = productBackend() === 'auto' && S.cols > 0 ? newWasmCross() : null;
  if (!kernel) {
    residents.set(S.data, null);
    return null;
  }
  const stride = strideOf(S.cols);
  const nB = roundUp(S.rows, TILE_COLS);
  kernel.reserve(nB * stride * 2);
  const stats = newStats(S.rows);
  quantiseRows(S, 0, S.rows, new Int16Array(kernel.buffer()), 0, stride, stats, 0);
  const made = { kernel, rows: S.rows, nB, stride, stats };
  residents.set(S.data, made);
  return made;
}

/**
 * The int16 products of X's rows with a model's training rows S (kept resident, quantised
 * once), row-major X.rows x S.rows, with both sides' stats; null without WebAssembly SIMD.
 */
export function screenProducts(X: Matrix, S: Matrix): { ints: Int32Array; x: Quantised; s: Quantised } | null {
  if (X.cols !== S.cols) throw new Error(`screenProducts: ${X.cols} columns against ${S.cols}`);
  const r = residentFor(S);
  if (!r) return null;
  const { kernel, nB, stride } = r;
  const rowBytes = stride * 2;
  const bBytes = nB * rowBytes;
  const fit = Math.floor(SCRATCH_BYTES / (rowBytes + nB * 4) / TILE_ROWS) * TILE_ROWS;
  const aRows = Math.min(roundUp(Math.max(X.rows, 1), TILE_ROWS), Math.max(TILE_ROWS, fit));
  const aAt = bBytes;
  const cAt = aAt + aRows * rowBytes;
  kernel.reserve(cAt + aRows * nB * 4);
  const ints = new Int32Array(X.rows * S.rows);
  const x = newStats(X.rows);
  for (let ac = 0; ac < X.rows; ac += aRows) {
    const acEnd = Math.min(X.rows, ac + aRows);
    const mA = roundUp(acEnd - ac, TILE_ROWS);
    const heap = new Int16Array(kernel.buffer());
    quantiseRows(X, ac, acEnd, heap, aAt / 2, stride, x, ac);
    heap.fill(0, aAt / 2 + (acEnd - ac) * stride, aAt / 2 + mA * stride);
    for (let p = 0; p < nB; p += PANEL) kernel.crossI16(aAt, p * rowBytes, cAt + p * 4, mA, Math.min(PANEL, nB - p), rowBytes, nB * 4);
    const out = new Int32Array(kernel.buffer());
    for (let i = ac; i < acEnd; i++) ints.set(out.subarray(cAt / 4 + (i - ac) * nB, cAt / 4 + (i - ac) * nB + S.rows), i * S.rows);
  }
  return { ints, x, s: r.stats };
}
