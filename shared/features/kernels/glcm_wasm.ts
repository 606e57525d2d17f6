import {
  ADD,
  assembleModule,
  BLOCK,
  br,
  brIf,
  END,
  emitter,
  F64,
  GE_S,
  get,
  I32,
  I32_LOAD,
  I32_STORE,
  I32X4_MAX_S,
  I32X4_MIN_S,
  I32X4_SPLAT,
  I32X4_TRUNC_SAT_F64X2_ZERO,
  i32c,
  instantiate,
  LOAD64_ZERO,
  LOOP,
  MUL,
  PROMOTE_LOW,
  set,
  SHL,
  STORE64_LANE0,
  tee,
  V_FLOOR,
  V_MUL,
  V_SPLAT,
  V128,
  type WasmMemory,
} from '../../wasm/assemble.ts';

/**
 * The GLCM's two loops over pixels in WebAssembly, assembled here byte by byte: the counts
 * come out the same integers as glcm_impl.ts's, without JavaScript's checks on every typed
 * array access (three per counted pair).
 *
 * `quantise(img, pixels, levels, top, q)`: q[i] = min(top, floor(v[i] * levels)) as int32,
 * the product in double (exact), two pixels at a time (q holds a spare entry).
 * `countPairs(q, width, rows, c0, c1, step, levels, counts)`: counts[q[p] * levels +
 * q[p + step]] += 1 for p = r * width + c over rows [0, rows) and columns [c0, c1).
 */

function quantiseBody(): number[] {
  const [IMG, PIXELS, LEVELS, TOP, Q] = [0, 1, 2, 3, 4];
  const [END_, LV, TV, ZERO] = [5, 6, 7, 8];
  const { code, e } = emitter();
  e(get(LEVELS), V_SPLAT, set(LV), get(TOP), I32X4_SPLAT, set(TV), i32c(0), I32X4_SPLAT, set(ZERO));
  e(get(IMG), get(PIXELS), i32c(2), SHL, ADD, set(END_));
  e(BLOCK, LOOP, get(IMG), get(END_), GE_S, brIf(1));
  e(get(Q), get(IMG), LOAD64_ZERO, PROMOTE_LOW, get(LV), V_MUL, V_FLOOR, I32X4_TRUNC_SAT_F64X2_ZERO, get(TV), I32X4_MIN_S, get(ZERO), I32X4_MAX_S, STORE64_LANE0);
  e(get(IMG), i32c(8), ADD, set(IMG), get(Q), i32c(8), ADD, set(Q), br(0), END, END);
  return code;
}

function countBody(): number[] {
  const [Q, WIDTH, ROWS, C0, C1, STEP, LEVELS, COUNTS] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [R, P, END_, A] = [8, 9, 10, 11];
  const { code, e } = emitter();
  e(get(STEP), i32c(2), SHL, set(STEP), i32c(0), set(R));
  e(BLOCK, LOOP, get(R), get(ROWS), GE_S, brIf(1));
  e(get(Q), get(R), get(WIDTH), MUL, i32c(2), SHL, ADD, tee(A), get(C0), i32c(2), SHL, ADD, set(P), get(A), get(C1), i32c(2), SHL, ADD, set(END_));
  e(BLOCK, LOOP, get(P), get(END_), GE_S, brIf(1));
  e(get(COUNTS), get(P), I32_LOAD, get(LEVELS), MUL, get(P), get(STEP), ADD, I32_LOAD, ADD, i32c(2), SHL, ADD, tee(A), get(A), I32_LOAD, i32c(1), ADD, I32_STORE);
  e(get(P), i32c(4), ADD, set(P), br(0), END, END);
  e(get(R), i32c(1), ADD, set(R), br(0), END, END);
  return code;
}

export function assembleGlcm(): Uint8Array<ArrayBuffer> {
  return assembleModule([
    { name: 'quantise', params: [I32, I32, F64, I32, I32], results: [], locals: [[1, I32], [3, V128]], body: quantiseBody() },
    { name: 'countPairs', params: [I32, I32, I32, I32, I32, I32, I32, I32], results: [], locals: [[4, I32]], body: countBody() },
  ]);
}

export interface GlcmWasm {
  memory: WasmMemory;
  quantise(img: number, pixels: number, levels: number, top: number, q: number): void;
  countPairs(q: number, width: number, rows: number, c0: number, c1: number, step: number, levels: number, counts: number): void;
}

let cached: GlcmWasm | null | undefined;

/** This thread's instance, or null where WebAssembly SIMD is not available (the JavaScript loops run instead). */
export function glcmWasm(): GlcmWasm | null {
  if (cached === undefined) cached = (instantiate(assembleGlcm()) as unknown as GlcmWasm | null) ?? null;
  return cached;
}
