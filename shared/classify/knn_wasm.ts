import {
  ADD,
  BLOCK,
  br,
  brIf,
  emitter,
  END,
  F64,
  F64_ABS,
  F64_ADD,
  F64_CONVERT_I32_S,
  F64_DIV,
  F64_GT,
  F64_LOAD,
  F64_MAX,
  F64_MIN,
  F64_MUL,
  F64_NEAREST,
  F64_NEG,
  F64_SUB,
  f64c,
  f64StoreAt,
  GE_U,
  get,
  I32,
  I32_LOAD,
  I32_STORE16,
  I32_TRUNC_F64_S,
  i32c,
  IF,
  LOOP,
  MUL,
  SELECT,
  set,
  simd,
  V_ADD,
  V_MUL,
  V128,
  type WasmFunction,
} from '../wasm/assemble.ts';

/**
 * KNN's int16 screen in WebAssembly, beside the products in gemm_wasm.ts's module (one
 * memory): the quantisation of rows to int16 with the numbers their error bound needs, the
 * per-pair bounds of one test row against every training row, and the exact float64 dot of
 * a surviving pair. knn_screen.ts says what the numbers mean; these are its loops, one
 * element or pair at a time, the same arithmetic as the JavaScript they replaced except that
 * q rounds ties to even (the bound holds for any whole q: e is measured from it).
 */

export interface KnnKernels {
  /**
   * Rows of float64 (px, xStride bytes apart, d values each) to int16 (pq, qStride bytes
   * apart, zero-padded): q = clamp(nearest(x * Q / max|x|), -Q, Q); per row at ps + 32 r the
   * scale alpha = max|x| / Q, sum q^2, sum (x - alpha q)^2 and sum x^2.
   */
  quantI16(px: number, xStride: number, pq: number, qStride: number, rows: number, d: number, Q: number, ps: number): void;
  /**
   * One test row against n training rows: from its int32 products at pc and the columns at
   * pcols (n float64 each: alpha, q, s, |b|^2, colTerm, |b|), the bounds of the distance
   * the exact path ranks by: lower at pout, upper at pout + 8n.
   */
  screenI16(pc: number, n: number, pcols: number, pout: number, cosine: number, alpha: number, sa: number, p: number, r: number, t: number, na: number, rowTerm: number): void;
  /** The dot product of two float64 rows `bytes` long (a multiple of 16), summed as linalg.ts's dot: even and odd lanes, then their sum. */
  dot64(pa: number, pb: number, bytes: number): number;
}

const V128_LOAD = simd(0x00).concat([4, 0]);
const V128_ZERO = [...simd(0x0c), ...new Array<number>(16).fill(0)];
const lane = (l: number) => [...simd(0x21), l];
const EPS = 2 ** -52;
const ELSE = [0x05];

/** A loop `while (ptr < end) { body; ptr += step }` (and any more pointers stepped alongside). */
function whileBelow(ptr: number, end: number, body: number[][], steps: [local: number, step: number][]): number[][] {
  return [BLOCK, LOOP, get(ptr), get(end), GE_U, brIf(1), ...body, ...steps.flatMap(([l, s]) => [get(l), i32c(s), ADD, set(l)]), br(0), END, END];
}

export function quantI16(): WasmFunction {
  // params: px 0, xStride 1, pq 2, qStride 3, rows 4, d 5, Q 6 (f64), ps 7
  const [PX, XS, PQ, QS, ROWS, D, Q, PS] = [0, 1, 2, 3, 4, 5, 6, 7];
  // i32 locals 8..12, f64 locals 13..21
  const [R, XP, QP, END_, QEND] = [8, 9, 10, 11, 12];
  const [MAX, ALPHA, INV, V, QV, QQ, EE, AA, E] = [13, 14, 15, 16, 17, 18, 19, 20, 21];
  const { code, e } = emitter();
  e(i32c(0), set(R), BLOCK, LOOP, get(R), get(ROWS), GE_U, brIf(1));
  e(get(PX), get(R), get(XS), MUL, ADD, set(XP), get(XP), get(D), i32c(8), MUL, ADD, set(END_));
  e(get(PQ), get(R), get(QS), MUL, ADD, set(QP));
  e(f64c(0), set(MAX));
  e(...whileBelow(XP, END_, [[get(MAX), get(XP), F64_LOAD, F64_ABS, F64_MAX, set(MAX)].flat()], [[XP, 8]]));
  e(get(PX), get(R), get(XS), MUL, ADD, set(XP));
  e(get(MAX), get(Q), F64_DIV, set(ALPHA));
  // any whole q keeps the bound (e is measured from it): a product per element, not a division
  e(get(Q), get(MAX), F64_DIV, f64c(0), get(ALPHA), f64c(0), F64_GT, SELECT, set(INV));
  e(f64c(0), set(QQ), f64c(0), set(EE), f64c(0), set(AA));
  const element = [
    [get(XP), F64_LOAD, set(V)],
    [get(V), get(INV), F64_MUL, F64_NEAREST, get(Q), F64_NEG, F64_MAX, get(Q), F64_MIN, set(QV)],
    [get(QP), get(QV), I32_TRUNC_F64_S, I32_STORE16],
    [get(QQ), get(QV), get(QV), F64_MUL, F64_ADD, set(QQ)],
    [get(V), get(ALPHA), get(QV), F64_MUL, F64_SUB, set(E)],
    [get(EE), get(E), get(E), F64_MUL, F64_ADD, set(EE)],
    [get(AA), get(V), get(V), F64_MUL, F64_ADD, set(AA)],
  ].map((x) => x.flat());
  e(
    ...whileBelow(XP, END_, element, [
      [XP, 8],
      [QP, 2],
    ]),
  );
  e(get(PQ), get(R), get(QS), MUL, ADD, get(QS), ADD, set(QEND));
  e(...whileBelow(QP, QEND, [[get(QP), i32c(0), I32_STORE16].flat()], [[QP, 2]]));
  e(get(PS), get(R), i32c(32), MUL, ADD, set(XP));
  e(get(XP), get(ALPHA), f64StoreAt(0), get(XP), get(QQ), f64StoreAt(8), get(XP), get(EE), f64StoreAt(16), get(XP), get(AA), f64StoreAt(24));
  e(get(R), i32c(1), ADD, set(R), br(0), END, END);
  return { name: 'quantI16', params: [I32, I32, I32, I32, I32, I32, F64, I32], results: [], locals: [[5, I32], [9, F64]], body: code };
}

export function screenI16(): WasmFunction {
  // params: pc 0, n 1, pcols 2, pout 3, cosine 4 (i32); alpha 5, sa 6, p 7, r 8, t 9, na 10, rowTerm 11 (f64)
  const [PC, N, PCOLS, POUT, COSINE, A, SA, P, R, T, NA, ROW_TERM] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  // i32 locals 12..15: column pointer, its end, the int pointer, the column stride; f64 16..20
  const [CP, CEND, IP, NB] = [12, 13, 14, 15];
  const [AB, ERR, V, E, NORM] = [16, 17, 18, 19, 20];
  const col = (m: number) => (m === 0 ? [...get(CP), ...F64_LOAD] : [...get(CP), ...get(NB), ...i32c(m), ...MUL, ...ADD, ...F64_LOAD]);
  const { code, e } = emitter();
  e(get(N), i32c(8), MUL, set(NB));
  e(get(PCOLS), set(CP), get(PCOLS), get(NB), ADD, set(CEND), get(PC), set(IP));
  const pair = [
    // ab = alpha_a (alpha_b q_a.q_b); err = p q_b + r s_b + t
    [get(A), col(0), get(IP), I32_LOAD, F64_CONVERT_I32_S, F64_MUL, F64_MUL, set(AB)],
    [get(P), col(1), F64_MUL, get(R), col(2), F64_MUL, F64_ADD, get(T), F64_ADD, set(ERR)],
    [get(COSINE), IF],
    // cosine: 1 - ab / (|a| |b|), 1 for a zero vector
    [get(NA), col(5), F64_MUL, set(NORM), f64c(1), set(V), f64c(0), set(E)],
    [get(NORM), f64c(0), F64_GT, IF],
    [f64c(1), get(AB), get(NORM), F64_DIV, F64_SUB, set(V)],
    [get(ERR), get(NORM), F64_DIV, f64c(8 * EPS), f64c(1), get(AB), F64_ABS, get(NORM), F64_DIV, F64_ADD, F64_MUL, F64_ADD, set(E)],
    [END],
    [ELSE],
    [get(SA), col(3), F64_ADD, f64c(2), get(AB), F64_MUL, F64_SUB, set(V)],
    [f64c(2), get(ERR), F64_MUL, get(ROW_TERM), F64_ADD, col(4), F64_ADD, f64c(16 * EPS), get(NA), F64_MUL, col(5), F64_MUL, F64_ADD, set(E)],
    [END],
    [get(POUT), get(V), get(E), F64_SUB, f64StoreAt(0)],
    [get(POUT), get(NB), ADD, get(V), get(E), F64_ADD, f64StoreAt(0)],
  ].map((x) => x.flat());
  e(
    ...whileBelow(CP, CEND, pair, [
      [CP, 8],
      [IP, 4],
      [POUT, 8],
    ]),
  );
  return { name: 'screenI16', params: [I32, I32, I32, I32, I32, F64, F64, F64, F64, F64, F64, F64], results: [], locals: [[4, I32], [5, F64]], body: code };
}

export function dot64(): WasmFunction {
  // params: pa 0, pb 1, bytes 2; i32 local end 3; v128 local acc 4
  const [PA, PB, BYTES, END_, ACC] = [0, 1, 2, 3, 4];
  const { code, e } = emitter();
  e(V128_ZERO, set(ACC), get(PA), get(BYTES), ADD, set(END_));
  e(...whileBelow(PA, END_, [[get(ACC), get(PA), V128_LOAD, get(PB), V128_LOAD, V_MUL, V_ADD, set(ACC)].flat()], [[PA, 16], [PB, 16]]));
  e(get(ACC), lane(0), get(ACC), lane(1), F64_ADD);
  return { name: 'dot64', params: [I32, I32, I32], results: [F64], locals: [[1, I32], [1, V128]], body: code };
}
