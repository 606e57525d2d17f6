import { newWasmCross, TILE_I16, type WasmCross } from './gemm_wasm.ts';
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
 * sum) below 2^31: at most `stride` products of at most Q^2 each. Everything per element or
 * per pair runs in WebAssembly (knn_wasm.ts), beside the training rows kept there.
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
/** Relative allowance for the rounding of the double-precision sums of squares. */
const UP = 1 + 1e-9;
/** Bytes of test rows (float64 and int16), their products and stats per block. */
const SCRATCH_BYTES = 8 * 2 ** 20;
/** Training rows per call of the product (a multiple of TILE_I16.cols): 64 x 3.5 KiB stay in L2 while every test row of the block passes them. */
const PANEL = 64;

/** quantI16's sums (alpha, sum q^2, sum e^2, sum a^2 per row, from `at`) as the bound's numbers, into `into` from row `s0`. */
function readStats(f64: Float64Array, at: number, rows: number, into: Quantised, s0: number): void {
  for (let r = 0; r < rows; r++) {
    const [alpha, qq, ee, aa] = [f64[at + 4 * r]!, f64[at + 4 * r + 1]!, f64[at + 4 * r + 2]!, f64[at + 4 * r + 3]!];
    into.alpha[s0 + r] = alpha;
    into.norm[s0 + r] = alpha * Math.sqrt(qq) * UP;
    // e's own rounding (alpha q and the difference, each within 2^-53 of |a_k| or so): 2^-50 |a| covers it
    into.error[s0 + r] = Math.sqrt(ee) * UP + Math.sqrt(aa) * 2 ** -50 + 1e-300;
  }
}

const newStats = (rows: number): Quantised => ({ alpha: new Float64Array(rows), norm: new Float64Array(rows), error: new Float64Array(rows) });

/**
 * A model's training rows in a WebAssembly instance of their own: in int16 for the products
 * and in float64 for the exact dots of the pairs that pass, with the per-column numbers of
 * the bound; then, block by block, test rows copied in after them.
 */
export class Int16Screen {
  readonly n: number;
  readonly d: number;
  private readonly nB: number;
  private readonly s16: number;
  private readonly s64: number;
  private readonly b64At: number;
  private readonly colsAt: number;
  private readonly scratchAt: number;
  /** The training rows' stats (alpha, |b^|, |e_b|). */
  readonly stats: Quantised;
  /** Test rows per block. */
  readonly blockRows: number;
  private a64At = 0;
  private a16At = 0;
  private cAt = 0;
  private statsAt = 0;
  private outAt = 0;
  private loaded = 0;
  /** The loaded block's stats. */
  readonly x: Quantised;
  /** After `row`: the bounds of the distance to each training row. */
  lower = new Float64Array(0);
  upper = new Float64Array(0);

  constructor(
    private readonly kernel: WasmCross,
    S: Matrix,
    normS: Float64Array,
    sqS: Float64Array,
  ) {
    const { rows: n, cols: d } = S;
    this.n = n;
    this.d = d;
    this.nB = roundUp(n, TILE_I16.cols);
    this.s16 = strideOf(d);
    this.s64 = roundUp(d, 2);
    this.b64At = roundUp(this.nB * this.s16 * 2, 16);
    this.colsAt = this.b64At + n * this.s64 * 8;
    this.scratchAt = this.colsAt + 6 * n * 8;
    const perRow = this.s64 * 8 + this.s16 * 2 + this.nB * 4 + 32;
    this.blockRows = Math.max(TILE_I16.rows, Math.floor((SCRATCH_BYTES - 16 * n) / perRow / TILE_I16.rows) * TILE_I16.rows);
    this.x = newStats(this.blockRows);
    kernel.reserve(this.scratchAt);
    const f64 = new Float64Array(kernel.buffer());
    this.copyRows(f64, S, 0, n, this.b64At);
    kernel.quantI16(this.b64At, this.s64 * 8, 0, this.s16 * 2, n, d, quantMax(d), this.colsAt);
    this.stats = newStats(n);
    readStats(f64, this.colsAt / 8, n, this.stats, 0);
    // the columns of the bound (screenI16): alpha, q, s, |b|^2, colTerm, |b|
    const eps = 2 ** -52;
    // alpha_a (alpha_b I) rounds twice: within 2^-51 |a^| |b^|, and |b^| <= |b| + |e_b|
    const tiny = 2 ** -50;
    const cols = [
      this.stats.alpha,
      Float64Array.from(this.stats.error, (e, j) => e + tiny * (normS[j]! + e)),
      Float64Array.from(normS, (v) => v * (1 + 1e-12)),
      sqS,
      // the exact path's own rounding, euclidean: 8 eps (|a|^2 + |b|^2 + 2 |a||b|), split per row and per training sample
      Float64Array.from(sqS, (sb) => 8 * eps * sb),
      normS,
    ];
    cols.forEach((c, m) => f64.set(c, this.colsAt / 8 + m * n));
  }

  /** Rows [r0, r1) of M into float64 memory at `at` (bytes), s64 apart, padding zero. */
  private copyRows(f64: Float64Array, M: Matrix, r0: number, r1: number, at: number): void {
    const { d, s64 } = this;
    for (let r = r0; r < r1; r++) {
      const o = at / 8 + (r - r0) * s64;
      f64.set(M.data.subarray(r * d, (r + 1) * d), o);
      if (s64 > d) f64[o + d] = 0;
    }
  }

  /** Rows [r0, r0 + blockRows) of X (at most) in: quantised, and their products with every training row. */
  load(X: Matrix, r0: number): number {
    if (X.cols !== this.d) throw new Error(`KNN screen: ${X.cols} columns against ${this.d}`);
    const { kernel, nB, s16, s64, n } = this;
    const rows = Math.min(this.blockRows, X.rows - r0);
    const mA = roundUp(rows, TILE_I16.rows);
    this.a64At = this.scratchAt;
    this.a16At = this.a64At + mA * s64 * 8;
    this.cAt = this.a16At + mA * s16 * 2;
    this.statsAt = this.cAt + mA * nB * 4;
    this.outAt = this.statsAt + mA * 32;
    kernel.reserve(this.outAt + 16 * n);
    const f64 = new Float64Array(kernel.buffer());
    this.copyRows(f64, X, r0, r0 + rows, this.a64At);
    if (mA > rows) f64.fill(0, this.a64At / 8 + rows * s64, this.a64At / 8 + mA * s64);
    kernel.quantI16(this.a64At, s64 * 8, this.a16At, s16 * 2, mA, this.d, quantMax(this.d), this.statsAt);
    readStats(f64, this.statsAt / 8, rows, this.x, 0);
    const rowBytes = s16 * 2;
    for (let p = 0; p < nB; p += PANEL) kernel.crossI16(this.a16At, p * rowBytes, this.cAt + p * 4, mA, Math.min(PANEL, nB - p), rowBytes, nB * 4);
    this.lower = new Float64Array(kernel.buffer(), this.outAt, n);
    this.upper = new Float64Array(kernel.buffer(), this.outAt + 8 * n, n);
    this.loaded = rows;
    return rows;
  }

  /** The loaded row i's int32 products (a view, valid until the next load). */
  products(i: number): Int32Array {
    return new Int32Array(this.kernel.buffer(), this.cAt + i * this.nB * 4, this.n);
  }

  /**
   * `lower` and `upper` for the loaded row i: bounds of the value the exact path ranks by
   * (euclidean: |a|^2 + |b|^2 - 2 a.b; cosine: 1 - a.b / (|a| |b|)) for every training row,
   * widened by that path's own rounding. sa = |a|^2, na = |a|.
   */
  row(i: number, sa: number, na: number, cosine: boolean): void {
    if (i >= this.loaded) throw new Error(`KNN screen: row ${i} of ${this.loaded}`);
    const x = this.x;
    const rowTerm = 8 * 2 ** -52 * sa;
    this.kernel.screenI16(this.cAt + i * this.nB * 4, this.n, this.colsAt, this.outAt, cosine ? 1 : 0, x.alpha[i]!, sa, x.norm[i]!, x.error[i]!, 1e-300, na, rowTerm);
  }

  /** dot(a_i, b_j) in float64, the same bits as linalg.ts's dot, for the loaded row i. */
  dot(i: number, j: number): number {
    return this.kernel.dot64(this.a64At + i * this.s64 * 8, this.b64At + j * this.s64 * 8, this.s64 * 8);
  }
}

const screens = new WeakMap<Float64Array, Int16Screen | null>();

/** The screen of a model's training rows S (made once, kept while S lives), or null without WebAssembly SIMD. */
export function int16ScreenFor(S: Matrix, sqS: Float64Array): Int16Screen | null {
  const have = screens.get(S.data);
  if (have !== undefined && (have === null || (have.n === S.rows && have.d === S.cols))) return have;
  const kernel = productBackend() === 'auto' && S.cols > 0 ? newWasmCross() : null;
  const made = kernel ? new Int16Screen(kernel, S, Float64Array.from(sqS, Math.sqrt), sqS) : null;
  screens.set(S.data, made);
  return made;
}

/**
 * The int16 products of X's rows with training rows S, row-major X.rows x S.rows, with both
 * sides' stats (the bound's numbers); null without WebAssembly SIMD.
 */
export function screenProducts(X: Matrix, S: Matrix, sqS: Float64Array): { ints: Int32Array; x: Quantised; s: Quantised } | null {
  const screen = int16ScreenFor(S, sqS);
  if (!screen) return null;
  const ints = new Int32Array(X.rows * S.rows);
  const x = newStats(X.rows);
  for (let r0 = 0; r0 < X.rows; ) {
    const rows = screen.load(X, r0);
    for (let i = 0; i < rows; i++) {
      ints.set(screen.products(i), (r0 + i) * S.rows);
      x.alpha[r0 + i] = screen.x.alpha[i]!;
      x.norm[r0 + i] = screen.x.norm[i]!;
      x.error[r0 + i] = screen.x.error[i]!;
    }
    r0 += rows;
  }
  return { ints, x, s: screen.stats };
}
