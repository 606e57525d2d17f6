import { TILE_COLS, TILE_ROWS, newWasmCross, releaseIfLarge, wasmCross, type WasmCross } from './gemm_wasm.ts';

/** A dense row-major matrix of doubles. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

export function matrix(rows: number, cols: number, data: Float64Array = new Float64Array(rows * cols)): Matrix {
  if (data.length !== rows * cols) throw new Error(`matrix: ${data.length} values for ${rows} x ${cols}`);
  return { rows, cols, data };
}

export const rowOf = (m: Matrix, i: number): Float64Array => m.data.subarray(i * m.cols, (i + 1) * m.cols);

/** The rows `index` of m, in that order. */
export function takeRows(m: Matrix, index: ArrayLike<number>): Matrix {
  const out = new Float64Array(index.length * m.cols);
  for (let r = 0; r < index.length; r++) out.set(rowOf(m, index[r]!), r * m.cols);
  return matrix(index.length, m.cols, out);
}

/**
 * The dot product every kernel here is built on: two lanes (even and odd k), each summed in
 * increasing k, then added. The WebAssembly kernel sums in exactly this order, so a value
 * is the same bits whichever computed it, in training and in prediction.
 */
export function dot(a: Float64Array, ai: number, b: Float64Array, bi: number, d: number): number {
  let s0 = 0;
  let s1 = 0;
  const even = d & ~1;
  for (let k = 0; k < even; k += 2) {
    s0 += a[ai + k]! * b[bi + k]!;
    s1 += a[ai + k + 1]! * b[bi + k + 1]!;
  }
  if (d & 1) {
    s0 += a[ai + even]! * b[bi + even]!;
    s1 += 0; // the zero padding of the SIMD path: turns a -0 lane into +0 as it does
  }
  return s0 + s1;
}

/** dot(x_i, x_i) for every row. */
export function squaredNorms(m: Matrix): Float64Array {
  const out = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) out[i] = dot(m.data, i * m.cols, m.data, i * m.cols, m.cols);
  return out;
}

type Backend = 'auto' | 'js';
let backend: Backend = 'auto';
/** Forces the plain JavaScript path (tests compare the two). */
export function setProductBackend(b: Backend): void {
  backend = b;
}

export const productBackend = (): Backend => backend;

/** Bytes of wasm memory one call may use before the work is split. */
const CHUNK_BYTES = 96 * 2 ** 20;
/** Columns (B rows) per kernel call: a panel that stays in L2 while A streams past it. */
const PANEL = 64;
const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** Copies rows [r0, r1) of m into heap at `at` (in doubles), each padded to `stride` doubles. */
function copyPadded(heap: Float64Array, at: number, m: Matrix, r0: number, r1: number, stride: number, padRowsTo: number): void {
  for (let r = r0; r < r1; r++) {
    const o = at + (r - r0) * stride;
    heap.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), o);
    if (stride > m.cols) heap.fill(0, o + m.cols, o + stride);
  }
  const rows = r1 - r0;
  if (padRowsTo > rows) heap.fill(0, at + rows * stride, at + padRowsTo * stride);
}

/**
 * out[(i - a0) * ldo + j] = dot(A_i, B_j) for i in [a0, a1) and j in [b0, b1), but only
 * j < bEnd(i0, i1) for a block of rows [i0, i1): a symmetric product stops at the diagonal.
 * `symmetric` says A and B are the same matrix (its rows are then read in place).
 */
function products(
  A: Matrix,
  a0: number,
  a1: number,
  B: Matrix,
  b0: number,
  b1: number,
  out: Float64Array,
  ldo: number,
  symmetric = false,
): void {
  if (A.cols !== B.cols) throw new Error(`products: ${A.cols} columns against ${B.cols}`);
  const d = A.cols;
  const bEnd = (_i0: number, i1: number) => (symmetric ? Math.min(b1, i1) : b1);
  const kernel = backend === 'auto' && d > 0 ? wasmCross() : null;
  if (!kernel) {
    for (let i = a0; i < a1; i++) {
      const end = bEnd(i, i + 1);
      for (let j = b0; j < end; j++) out[(i - a0) * ldo + j] = dot(A.data, i * d, B.data, j * d, d);
    }
    return;
  }
  const stride = roundUp(d, 2);
  const rowBytes = stride * 8;
  const bRowsPerChunk = Math.max(TILE_COLS, roundUp(Math.floor(CHUNK_BYTES / 2 / rowBytes), TILE_COLS));
  let used = 0;
  for (let bc = b0; bc < b1; bc += bRowsPerChunk) {
    const bcEnd = Math.min(b1, bc + bRowsPerChunk);
    const nB = roundUp(bcEnd - bc, TILE_COLS);
    // A in row blocks: small ones for a triangle (so that it costs half), else as many as fit.
    const fit = Math.max(TILE_ROWS, roundUp(Math.floor(CHUNK_BYTES / 2 / (rowBytes + nB * 8)), TILE_ROWS));
    const aRows = symmetric ? Math.min(fit, PANEL) : fit;
    const aAt = nB * stride;
    const cAt = aAt + aRows * stride;
    const bytes = (cAt + aRows * nB) * 8;
    used = Math.max(used, bytes);
    let heap = kernel.reserve(bytes);
    copyPadded(heap, 0, B, bc, bcEnd, stride, nB);
    for (let ac = a0; ac < a1; ac += aRows) {
      const acEnd = Math.min(a1, ac + aRows);
      const limit = Math.min(bcEnd, bEnd(ac, acEnd));
      if (limit <= bc) continue;
      const mA = roundUp(acEnd - ac, TILE_ROWS);
      // In a symmetric product the A rows are B rows already in memory (padding rows included).
      const inPlace = symmetric && ac >= bc && ac + mA <= bc + nB;
      const aPtr = inPlace ? (ac - bc) * stride : aAt;
      if (!inPlace) copyPadded(heap, aAt, A, ac, acEnd, stride, mA);
      const nUsed = roundUp(limit - bc, TILE_COLS);
      for (let p = 0; p < nUsed; p += PANEL) {
        kernel.cross(aPtr * 8, p * stride * 8, (cAt + p) * 8, mA, Math.min(PANEL, nUsed - p), rowBytes, nB * 8);
      }
      heap = kernel.reserve(0);
      for (let i = ac; i < acEnd; i++) {
        const end = Math.min(limit, bEnd(i, i + 1));
        const from = cAt + (i - ac) * nB;
        if (end > bc) out.set(heap.subarray(from, from + (end - bc)), (i - a0) * ldo + bc);
      }
    }
  }
  releaseIfLarge(used);
}

// ---------------------------------------------------------------------------------------------
// Predict-time caches for a model's fixed rows (support vectors, KNN samples). A model's
// matrices do not change once it is built or loaded; these keep what prediction derives from
// them (squared norms, the rows padded in WebAssembly memory) instead of redoing it on every
// call. The values computed are the same bits as without the caches: the same `dot`, the same
// kernel over the same padded rows.

/** Squared norms of a model's rows, keyed by the rows' array (dropped with it). */
const normsCache = new WeakMap<Float64Array, { rows: number; cols: number; norms: Float64Array }>();

/**
 * squaredNorms(m), computed once per matrix and kept while its data lives: for a model's
 * rows, which must not change afterwards. The result is shared: do not write to it.
 */
export function cachedSquaredNorms(m: Matrix): Float64Array {
  const hit = normsCache.get(m.data);
  if (hit && hit.rows === m.rows && hit.cols === m.cols) return hit.norms;
  const norms = squaredNorms(m);
  normsCache.set(m.data, { rows: m.rows, cols: m.cols, norms });
  return norms;
}

/** Rows larger than this are not kept resident (the plain product streams them in chunks). */
export const RESIDENT_MAX_BYTES = 128 * 2 ** 20;
/** The scratch (A block and its products) after the resident rows, at most: products go in blocks of A rows. */
const RESIDENT_SCRATCH_BYTES = 8 * 2 ** 20;
/** Resident memory of all models together, per thread; the least recently used go first. */
export const RESIDENT_BUDGET_BYTES = 384 * 2 ** 20;
let residentBudget = RESIDENT_BUDGET_BYTES;
/** Changes the budget of resident rows (tests); releases the least recently used beyond it. */
export function setResidentBudget(bytes: number = RESIDENT_BUDGET_BYTES): void {
  residentBudget = bytes;
  trimResident(0);
}

/** A matrix's rows, zero-padded, at the start of a WebAssembly instance's memory of its own. */
class ResidentRows {
  /** The instance, null once released (its memory goes with it). */
  kernel: WasmCross | null;
  readonly nB: number;
  readonly stride: number;

  constructor(kernel: WasmCross, B: Matrix) {
    this.kernel = kernel;
    this.stride = roundUp(B.cols, 2);
    this.nB = roundUp(B.rows, TILE_COLS);
    kernel.reserve(this.nB * this.stride * 8);
    copyPadded(kernel.reserve(0), 0, B, 0, B.rows, this.stride, this.nB);
  }

  /** Bytes of the instance's memory: the resident rows and the scratch of products (at most RESIDENT_SCRATCH_BYTES). */
  get bytes(): number {
    return this.kernel ? this.kernel.buffer().byteLength : 0;
  }

  /**
   * out[i * bRows + j] = the kernel's dot of A_i and resident row j: A is copied in (padded)
   * block by block after the resident rows, as `products` does, and the
   * same kernel runs over the same panels.
   */
  product(A: Matrix, bRows: number, out: Float64Array): Float64Array {
    const kernel = this.kernel!;
    const { nB, stride } = this;
    const rowBytes = stride * 8;
    const fit = Math.floor(RESIDENT_SCRATCH_BYTES / (rowBytes + nB * 8) / TILE_ROWS) * TILE_ROWS;
    const aRows = Math.min(roundUp(Math.max(A.rows, 1), TILE_ROWS), Math.max(TILE_ROWS, fit));
    const aAt = nB * stride;
    const cAt = aAt + aRows * stride;
    let heap = kernel.reserve((cAt + aRows * nB) * 8);
    const d = A.cols;
    for (let ac = 0; ac < A.rows; ac += aRows) {
      const acEnd = Math.min(A.rows, ac + aRows);
      const mA = roundUp(acEnd - ac, TILE_ROWS);
      heap.fill(0, aAt, aAt + mA * stride);
      for (let r = ac; r < acEnd; r++) heap.set(A.data.subarray(r * d, (r + 1) * d), aAt + (r - ac) * stride);
      for (let p = 0; p < nB; p += PANEL) kernel.cross(aAt * 8, p * stride * 8, (cAt + p) * 8, mA, Math.min(PANEL, nB - p), rowBytes, nB * 8);
      heap = kernel.reserve(0);
      for (let i = ac; i < acEnd; i++) out.set(heap.subarray(cAt + (i - ac) * nB, cAt + (i - ac) * nB + bRows), i * bRows);
    }
    return out;
  }

  release(): void {
    this.kernel = null;
  }
}

/** Per model matrix (by its data): how often it was used, and its resident rows. */
interface ResidentEntry {
  rows: number;
  cols: number;
  uses: number;
  rowsIn: ResidentRows | null;
}
const residentCache = new WeakMap<Float64Array, ResidentEntry>();
/** The live resident rows, least recently used first (Set order, re-added on use). */
const residentLru = new Set<ResidentRows>();
/** A resident copy whose matrix was collected is released at once, not when the budget pushes it out. */
const residentFinalizer =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<ResidentRows[]>((held) => {
        for (const r of held) {
          r.release();
          residentLru.delete(r);
        }
      })
    : null;

/** Releases every resident copy (tests; or to give the memory back). */
export function releaseResidentRows(): void {
  for (const r of residentLru) r.release();
  residentLru.clear();
}

/** Bytes of wasm memory held by resident rows now (this thread). */
export function residentBytes(): number {
  let total = 0;
  for (const r of residentLru) total += r.bytes;
  return total;
}

/** Releases the least recently used resident rows until `more` bytes fit in the budget. */
function trimResident(more: number): void {
  let total = residentBytes() + more;
  for (const old of residentLru) {
    if (total <= residentBudget) break;
    total -= old.bytes;
    old.release();
    residentLru.delete(old);
  }
}

/**
 * The resident copy of B, made on B's second product (a matrix used once, such as a
 * cross-validation fold's, is not worth keeping), or null to use the plain path.
 */
function residentFor(B: Matrix): ResidentRows | null {
  if (backend !== 'auto' || B.cols === 0 || B.rows === 0) return null;
  const entry = residentCache.get(B.data);
  if (!entry || entry.rows !== B.rows || entry.cols !== B.cols) {
    residentCache.set(B.data, { rows: B.rows, cols: B.cols, uses: 1, rowsIn: null });
    return null;
  }
  const have = entry.rowsIn;
  if (have?.kernel) {
    residentLru.delete(have);
    residentLru.add(have);
    return have;
  }
  entry.uses++;
  const bytes = roundUp(B.rows, TILE_COLS) * roundUp(B.cols, 2) * 8;
  if (entry.uses < 2 || bytes > Math.min(RESIDENT_MAX_BYTES, residentBudget)) return null;
  const kernel = newWasmCross();
  if (!kernel) return null;
  trimResident(bytes);
  const made = new ResidentRows(kernel, B);
  entry.rowsIn = made;
  residentLru.add(made);
  residentFinalizer?.register(B.data, [made]);
  return made;
}

/**
 * A B^T, the same bits as crossProduct, for a model's rows B that are used again and again
 * (support vectors, KNN samples): from the second call on, B stays padded in WebAssembly
 * memory of its own and only A is copied in. B must not change afterwards.
 */
export function crossProductResident(A: Matrix, B: Matrix, out: Float64Array = new Float64Array(A.rows * B.rows)): Float64Array {
  if (A.cols !== B.cols) throw new Error(`products: ${A.cols} columns against ${B.cols}`);
  const r = residentFor(B);
  if (!r) return crossProduct(A, B, out);
  r.product(A, B.rows, out);
  trimResident(0);
  return out;
}

/** A B^T: out[i * B.rows + j] = dot(A_i, B_j). */
export function crossProduct(A: Matrix, B: Matrix, out: Float64Array = new Float64Array(A.rows * B.rows)): Float64Array {
  products(A, 0, A.rows, B, 0, B.rows, out, B.rows);
  return out;
}

/**
 * Rows [r0, r1) of the lower triangle (diagonal included) of A A^T into out (n x n, full
 * rows): out[i * n + j] for j <= i. Worker threads can each fill a band; `mirrorLower`
 * completes the matrix.
 */
export function gramRows(A: Matrix, r0: number, r1: number, out: Float64Array): void {
  const n = A.rows;
  const band = new Float64Array((r1 - r0) * n);
  products(A, r0, r1, A, 0, n, band, n, true);
  for (let i = r0; i < r1; i++) out.set(band.subarray((i - r0) * n, (i - r0) * n + i + 1), i * n);
}

export function mirrorLower(out: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) out[j * n + i] = out[i * n + j]!;
}

/** A A^T, symmetric, every entry dot(A_i, A_j). */
export function gramMatrix(A: Matrix, out: Float64Array = new Float64Array(A.rows * A.rows)): Float64Array {
  gramRows(A, 0, A.rows, out);
  mirrorLower(out, A.rows);
  return out;
}

/**
 * Splits rows [0, n) into `parts` bands of about equal lower-triangle area, for threads.
 * Returns the band edges (parts + 1 numbers).
 */
export function triangleBands(n: number, parts: number): number[] {
  const edges = [0];
  for (let p = 1; p < parts; p++) edges.push(Math.min(n, Math.max(edges[p - 1]!, Math.round(n * Math.sqrt(p / parts)))));
  edges.push(n);
  return edges;
}
