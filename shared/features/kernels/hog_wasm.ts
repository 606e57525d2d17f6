import {
  ADD,
  AND,
  assembleModule,
  BITSELECT,
  BLOCK,
  br,
  brIf,
  END,
  emitter,
  F32_DEMOTE_F64,
  F32_STORE,
  F64,
  F64_ADD,
  F64_DIV,
  F64_LOAD,
  F64_MIN,
  F64_MUL,
  F64_SQRT,
  F64_STORE,
  f64c,
  f64x2c,
  GE_S,
  get,
  I32,
  I32_LOAD,
  I32_STORE,
  I32X4_ADD,
  I32X4_SPLAT,
  I32X4_TRUNC_SAT_F64X2_ZERO,
  i32c,
  I64X2_BITMASK,
  IF,
  instantiate,
  LOAD64_ZERO,
  LOOP,
  LT_S,
  MUL,
  PROMOTE_LOW,
  set,
  SHL,
  STORE64_LANE0,
  SUB,
  tee,
  V_ABS,
  V_ADD,
  V_DIV,
  V_FLOOR,
  V_GE,
  V_LE,
  V_LT,
  V_MUL,
  V_SPLAT,
  V_SQRT,
  V_SUB,
  V128,
  V128_AND,
  V128_NOT,
  V128_STORE,
  type WasmMemory,
} from '../../wasm/assemble.ts';
import { A1, A3, A5, A7, A9, NEAR_EDGE } from './hog_bins.ts';

/**
 * HOG's hot pass in WebAssembly SIMD, assembled here byte by byte: the same arithmetic as
 * gradientBins in hog_impl.ts, operation for operation in float64 (wasm has no fused
 * multiply-add, so every product and sum rounds as in JavaScript), two pixels per f64x2
 * lane pair, without JavaScript's per-access checks of typed arrays. Same bits as the
 * JavaScript pass (hog_wasm.test.ts compares them).
 *
 * `interior(img, width, r1, c1, cols, slot, mag, colOff, rowOff, undecided, n, scale)` reads
 * the float32 image at byte `img` (`width` wide), and for every pixel (r, c) with
 * 1 <= r < r1 and 1 <= c < c1 writes its histogram slot (rowOff[r] + colOff[c] + bin, int32)
 * at `slot` and its magnitude (float64) at `mag`, both indexed r * cols + c; pixels too near a
 * bin edge to decide are listed at `undecided`, and their number returned. Columns go two at
 * a time, so column c1 may be written too (the frame pass overwrites it; the buffers hold
 * two spare entries). `scatter(slot, mag, pixels, hist, bins)` zeroes `bins` float64 at
 * `hist` and adds each pixel's magnitude to its slot, in pixel order. `normalise(hist, bins,
 * cellsX, blocksY, blocksX, b, n, area, block, out)` turns the histogram into cell means and
 * writes the L2-Hys normalised blocks as float32 at `out` (`block` is b * b * n float64 of scratch).
 */

function interiorBody(): number[] {
  const [IMG, WIDTH, R1, C1, COLS, SLOT, MAG, COLOFF, ROWOFF, UND, N, SCALE] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const [R, C, ROW, O, COUNT, P, WB, M, K] = [12, 13, 14, 15, 16, 17, 18, 19, 20];
  const [GX, GY, AX, AY, Q, Q2, S, U, BIN, FRAC, ROWOFFV, NV, SCALEV] = [21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33];
  const { code: b, e } = emitter();
  const pixels = (addr: number[]) => [...addr, ...LOAD64_ZERO, ...PROMOTE_LOW];
  e(get(WIDTH), i32c(2), SHL, set(WB));
  e(get(N), V_SPLAT, set(NV), get(SCALE), V_SPLAT, set(SCALEV));
  e(i32c(0), set(COUNT), i32c(1), set(R));
  e(BLOCK, LOOP, get(R), get(R1), GE_S, brIf(1));
  e(get(IMG), get(R), get(WB), MUL, ADD, set(ROW));
  e(get(R), get(COLS), MUL, set(O));
  e(get(ROWOFF), get(R), i32c(2), SHL, ADD, I32_LOAD, I32X4_SPLAT, set(ROWOFFV));
  e(i32c(1), set(C));
  e(BLOCK, LOOP, get(C), get(C1), GE_S, brIf(1));
  e(get(ROW), get(C), i32c(2), SHL, ADD, set(P), get(O), get(C), ADD, set(K));
  // gx = v[i + 1] - v[i - 1], gy = v[i + width] - v[i - width]
  e(pixels([...get(P), ...i32c(4), ...ADD]), pixels([...get(P), ...i32c(4), ...SUB]), V_SUB, set(GX));
  e(pixels([...get(P), ...get(WB), ...ADD]), pixels([...get(P), ...get(WB), ...SUB]), V_SUB, set(GY));
  e(get(GX), V_ABS, set(AX), get(GY), V_ABS, set(AY));
  e(get(AY), get(AX), V_SUB, get(AY), get(AX), V_ADD, V_DIV, tee(Q), get(Q), V_MUL, set(Q2));
  // pi/4 + q (A1 + q2 (A3 + q2 (A5 + q2 (A7 + q2 A9))))
  e(f64x2c(Math.PI / 4), get(Q), f64x2c(A1), get(Q2), f64x2c(A3), get(Q2), f64x2c(A5), get(Q2), f64x2c(A7), get(Q2), f64x2c(A9));
  e(V_MUL, V_ADD, V_MUL, V_ADD, V_MUL, V_ADD, V_MUL, V_ADD, V_MUL, V_ADD);
  e(get(SCALEV), V_MUL, set(S));
  // u = n - s where gx gy < 0, else s; bin = floor(u)
  e(get(NV), get(S), V_SUB, get(S), get(GX), get(GY), V_MUL, f64x2c(0), V_LT, BITSELECT, tee(U), V_FLOOR, set(BIN));
  e(get(U), get(BIN), V_SUB, set(FRAC));
  e(get(FRAC), f64x2c(NEAR_EDGE), V_GE, get(FRAC), f64x2c(1 - NEAR_EDGE), V_LE, V128_AND, V128_NOT, I64X2_BITMASK, tee(M));
  e(IF);
  e(get(M), i32c(1), AND, IF, get(UND), get(COUNT), i32c(2), SHL, ADD, get(K), I32_STORE, get(COUNT), i32c(1), ADD, set(COUNT), END);
  e(get(M), i32c(2), AND, IF, get(C), i32c(1), ADD, get(C1), LT_S, IF);
  e(get(UND), get(COUNT), i32c(2), SHL, ADD, get(K), i32c(1), ADD, I32_STORE, get(COUNT), i32c(1), ADD, set(COUNT), END, END);
  e(END);
  // slot = rowOff[r] + colOff[c] + bin; magnitude = sqrt(gx gx + gy gy)
  e(get(SLOT), get(K), i32c(2), SHL, ADD);
  e(get(BIN), I32X4_TRUNC_SAT_F64X2_ZERO, get(COLOFF), get(C), i32c(2), SHL, ADD, LOAD64_ZERO, I32X4_ADD, get(ROWOFFV), I32X4_ADD, STORE64_LANE0);
  e(get(MAG), get(K), i32c(3), SHL, ADD, get(GX), get(GX), V_MUL, get(GY), get(GY), V_MUL, V_ADD, V_SQRT, V128_STORE);
  e(get(C), i32c(2), ADD, set(C), br(0), END, END);
  e(get(R), i32c(1), ADD, set(R), br(0), END, END);
  e(get(COUNT));
  return b;
}

function scatterBody(): number[] {
  const [SLOT, MAG, PIXELS, HIST, BINS] = [0, 1, 2, 3, 4];
  const [END_, A] = [5, 6];
  const { code: b, e } = emitter();
  // hist[0 .. bins) = 0
  e(get(HIST), get(BINS), i32c(3), SHL, ADD, set(END_));
  e(get(HIST), set(A), BLOCK, LOOP, get(A), get(END_), GE_S, brIf(1));
  e(get(A), f64c(0), F64_STORE, get(A), i32c(8), ADD, set(A), br(0), END, END);
  // hist[slot[p]] += mag[p], p in order
  e(get(SLOT), get(PIXELS), i32c(2), SHL, ADD, set(END_));
  e(BLOCK, LOOP, get(SLOT), get(END_), GE_S, brIf(1));
  e(get(HIST), get(SLOT), I32_LOAD, i32c(3), SHL, ADD, tee(A), get(A), F64_LOAD, get(MAG), F64_LOAD, F64_ADD, F64_STORE);
  e(get(SLOT), i32c(4), ADD, set(SLOT), get(MAG), i32c(8), ADD, set(MAG), br(0), END, END);
  return b;
}

/** L2-Hys over every block, as normaliseBlocks in hog_impl.ts, operation for operation. */
function normaliseBody(): number[] {
  const [HIST, BINS, CELLSX, BLOCKSY, BLOCKSX, B, N, AREA, BLK, OUT] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [BY, BX, CY, T, END_, J, O, ROWBYTES] = [10, 11, 12, 13, 14, 15, 16, 17];
  const [SUM, SCALE, X] = [18, 19, 20];
  const { code: b, e } = emitter();
  const loopWhile = (cond: number[], body: number[][]) => e(BLOCK, LOOP, cond, brIf(1), ...body, br(0), END, END);
  const EPS2 = f64c(1e-5 * 1e-5);
  // cell means, once: hist[t] /= area
  e(get(HIST), get(BINS), i32c(3), SHL, ADD, set(END_), get(HIST), set(T));
  loopWhile([...get(T), ...get(END_), ...GE_S], [get(T), get(T), F64_LOAD, get(AREA), F64_DIV, F64_STORE, get(T), i32c(8), ADD, set(T)]);
  e(get(B), get(N), MUL, i32c(3), SHL, set(ROWBYTES), get(OUT), set(O), i32c(0), set(BY));
  loopWhile([...get(BY), ...get(BLOCKSY), ...GE_S], [
    i32c(0), set(BX),
    [...BLOCK, ...LOOP, ...get(BX), ...get(BLOCKSX), ...GE_S, ...brIf(1)],
    get(BLK), set(J), f64c(0), set(SUM), i32c(0), set(CY),
    [...BLOCK, ...LOOP, ...get(CY), ...get(B), ...GE_S, ...brIf(1)],
    get(HIST), get(BY), get(CY), ADD, get(CELLSX), MUL, get(BX), ADD, get(N), MUL, i32c(3), SHL, ADD, tee(T), get(ROWBYTES), ADD, set(END_),
    [...BLOCK, ...LOOP, ...get(T), ...get(END_), ...GE_S, ...brIf(1)],
    get(J), get(T), F64_LOAD, tee(X), F64_STORE, get(SUM), get(X), get(X), F64_MUL, F64_ADD, set(SUM),
    get(J), i32c(8), ADD, set(J), get(T), i32c(8), ADD, set(T), br(0), END, END,
    get(CY), i32c(1), ADD, set(CY), br(0), END, END,
    f64c(1), get(SUM), EPS2, F64_ADD, F64_SQRT, F64_DIV, set(SCALE), f64c(0), set(SUM),
    get(BLK), set(T),
    [...BLOCK, ...LOOP, ...get(T), ...get(J), ...GE_S, ...brIf(1)],
    get(T), get(T), F64_LOAD, get(SCALE), F64_MUL, f64c(0.2), F64_MIN, tee(X), F64_STORE, get(SUM), get(X), get(X), F64_MUL, F64_ADD, set(SUM),
    get(T), i32c(8), ADD, set(T), br(0), END, END,
    f64c(1), get(SUM), EPS2, F64_ADD, F64_SQRT, F64_DIV, set(SCALE),
    get(BLK), set(T),
    [...BLOCK, ...LOOP, ...get(T), ...get(J), ...GE_S, ...brIf(1)],
    get(O), get(T), F64_LOAD, get(SCALE), F64_MUL, F32_DEMOTE_F64, F32_STORE, get(O), i32c(4), ADD, set(O), get(T), i32c(8), ADD, set(T), br(0), END, END,
    get(BX), i32c(1), ADD, set(BX), br(0), END, END,
    get(BY), i32c(1), ADD, set(BY),
  ]);
  return b;
}

export function assembleHog(): Uint8Array<ArrayBuffer> {
  return assembleModule([
    { name: 'interior', params: [...new Array<number>(10).fill(I32), F64, F64], results: [I32], locals: [[9, I32], [13, V128]], body: interiorBody() },
    { name: 'scatter', params: [I32, I32, I32, I32, I32], results: [], locals: [[2, I32]], body: scatterBody() },
    { name: 'normalise', params: [I32, I32, I32, I32, I32, I32, I32, F64, I32, I32], results: [], locals: [[8, I32], [3, F64]], body: normaliseBody() },
  ]);
}

export interface HogWasm {
  memory: WasmMemory;
  interior(img: number, width: number, r1: number, c1: number, cols: number, slot: number, mag: number, colOff: number, rowOff: number, undecided: number, n: number, scale: number): number;
  scatter(slot: number, mag: number, pixels: number, hist: number, bins: number): void;
  normalise(hist: number, bins: number, cellsX: number, blocksY: number, blocksX: number, b: number, n: number, area: number, block: number, out: number): void;
}

let cached: HogWasm | null | undefined;

/** This thread's instance, or null where WebAssembly SIMD is not available (the JavaScript pass runs instead). */
export function hogWasm(): HogWasm | null {
  if (cached !== undefined) return cached;
  const exports = instantiate(assembleHog());
  cached = exports ? (exports as unknown as HogWasm) : null;
  return cached;
}
