import { assembleModule, reserveMemory, s32, u32, type WasmApi, type WasmFunction, type WasmMemory } from '../wasm/assemble.ts';
import { dot64, quantI16, screenI16, type KnnKernels } from './knn_wasm.ts';

/**
 * WebAssembly SIMD kernels for blocks of dot products, assembled here byte by byte (no
 * toolchain, no binary blob): `cross(pa, pb, pc, m, n, rowBytes, ldcBytes)` writes
 * C[i][j] = dot(A_i, B_j) for a 2 x 4 tile at a time, over f64x2 lanes; `crossI16` does
 * the same in int16 over i16x8 lanes with int32 sums (2 x 2 tiles), for the KNN screen
 * (eight products an instruction, four times float64's).
 *
 * In float64 the lanes fix the summation order: lane 0 sums the products of even k, lane 1
 * those of odd k, each in increasing k, and the result is lane 0 + lane 1. `dot` in
 * linalg.ts does exactly the same in plain JavaScript, so both paths give the same bits
 * (wasm SIMD has no fused multiply-add and rounds every product and sum as JavaScript does).
 *
 * Rows must be padded with zeros to a whole number of lanes (rowBytes a multiple of 16; 32
 * for int16), m and n to whole tiles.
 */

export const TILE_ROWS = 2;
export const TILE_COLS = 4;
/**
 * The int16 kernel's tile (rows of A by rows of B), smaller than the float ones': with four
 * accumulators it ran 400 x 1,080 x 1,770 products in about 0.7 of the 2 x 4 tile's time
 * (V8 x64; 1 x 4 and 4 x 1 were close to 2 x 2, 2 x 3 and 1 x 6 and up slower).
 */
export const TILE_I16 = { rows: 2, cols: 2 };

const I32 = 0x7f;
const V128 = 0x7b;

/** Element types of the kernels: float64 products, and int16 ones summed in int32. */
type Kind = 'f64' | 'i16';

/**
 * One function's code: the tile loops over f64x2 (8-byte elements) or i16x8
 * lanes (2-byte elements; i32x4.dot_i16x8_s does eight products a step, summed exactly in
 * int32 lanes, which the caller keeps from overflowing).
 */
function kernelCode(kind: Kind): WasmFunction {
  const i16 = kind === 'i16';
  const R = i16 ? TILE_I16.rows : TILE_ROWS;
  const C = i16 ? TILE_I16.cols : TILE_COLS;
  // params 0..6: pa pb pc m n rowBytes ldcBytes; i32 locals: i 7, j 8, end 9, c 10, A row pointers, B row pointers
  const [PA, PB, PC, M, N, ROW, LDC, I, J, END, CP] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const AP = 11;
  const BP = AP + R;
  const nI32 = 4 + R + C;
  const ACC = 7 + nI32;
  const VA = ACC + R * C;
  const VB = VA + R;
  const nV128 = R * C + R + 1;
  const get = (i: number) => [0x20, ...u32(i)];
  const set = (i: number) => [0x21, ...u32(i)];
  const i32c = (v: number) => [0x41, ...s32(v)];
  const ADD = [0x6a];
  const MUL = [0x6c];
  const GE_U = [0x4f];
  const LOOP_START = [0x02, 0x40, 0x03, 0x40]; // block, loop
  const LOOP_END = [0x0c, 0, 0x0b, 0x0b]; // br 0 (continue), end loop, end block
  const BREAK_IF = [0x0d, 1];
  const vload = (ptr: number, offset = 0) => [...get(ptr), 0xfd, 0x00, 4, ...u32(offset)];
  // int16 rows are padded to 32 bytes and go two 16-byte steps per iteration (half the pointer updates)
  const STEPS = i16 ? 2 : 1;
  // f64x2.add, i32x4.add; f64x2.mul, i32x4.dot_i16x8_s
  const VEC_ADD = i16 ? [0xfd, 0xae, 0x01] : [0xfd, 0xf0, 0x01];
  const VEC_MUL = i16 ? [0xfd, 0xba, 0x01] : [0xfd, 0xf2, 0x01];
  const V128_ZERO = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
  const lane = (l: number) => [0xfd, i16 ? 0x1b : 0x21, l]; // extract_lane
  const SCALAR_ADD = i16 ? [0x6a] : [0xa0];
  const ELEMENT = i16 ? 4 : 8;
  // The lanes of one accumulator summed (four lanes: (l0 + l1) + (l2 + l3)) and stored at c * ELEMENT.
  const store = (a: number, c: number) =>
    i16
      ? [...get(a), ...lane(0), ...get(a), ...lane(1), ...SCALAR_ADD, ...get(a), ...lane(2), ...get(a), ...lane(3), ...SCALAR_ADD, ...SCALAR_ADD, 0x36, 2, ...u32(c * 4)]
      : [...get(a), ...lane(0), ...get(a), ...lane(1), ...SCALAR_ADD, 0x39, 3, ...u32(c * 8)];
  const acc = (r: number, c: number) => ACC + r * C + c;
  const b: number[] = [];
  const e = (...xs: number[][]) => {
    for (const x of xs) b.push(...x);
  };
  e(i32c(0), set(I), LOOP_START, get(I), get(M), GE_U, BREAK_IF);
  e(i32c(0), set(J), LOOP_START, get(J), get(N), GE_U, BREAK_IF);
  // Row pointers of the tile, then 16 bytes (one k pair) at a time along the rows.
  e(get(PA), get(I), get(ROW), MUL, ADD, set(AP));
  for (let r = 1; r < R; r++) e(get(AP + r - 1), get(ROW), ADD, set(AP + r));
  e(get(PB), get(J), get(ROW), MUL, ADD, set(BP));
  for (let c = 1; c < C; c++) e(get(BP + c - 1), get(ROW), ADD, set(BP + c));
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) e(V128_ZERO, set(acc(r, c)));
  e(get(AP), get(ROW), ADD, set(END));
  e(LOOP_START, get(AP), get(END), GE_U, BREAK_IF);
  for (let step = 0; step < STEPS; step++) {
    for (let r = 0; r < R; r++) e(vload(AP + r, 16 * step), set(VA + r));
    for (let c = 0; c < C; c++) {
      e(vload(BP + c, 16 * step), set(VB));
      for (let r = 0; r < R; r++) e(get(acc(r, c)), get(VA + r), get(VB), VEC_MUL, VEC_ADD, set(acc(r, c)));
    }
  }
  for (let r = 0; r < R; r++) e(get(AP + r), i32c(16 * STEPS), ADD, set(AP + r));
  for (let c = 0; c < C; c++) e(get(BP + c), i32c(16 * STEPS), ADD, set(BP + c));
  e(LOOP_END);
  e(get(PC), get(I), get(LDC), MUL, ADD, get(J), i32c(ELEMENT), MUL, ADD, set(CP));
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) e(get(CP), store(acc(r, c), c));
    e(get(CP), get(LDC), ADD, set(CP));
  }
  e(get(J), i32c(C), ADD, set(J), LOOP_END);
  e(get(I), i32c(R), ADD, set(I), LOOP_END);
  return { name: i16 ? 'crossI16' : 'cross', params: new Array<number>(7).fill(I32), results: [], locals: [[nI32, I32], [nV128, V128]], body: b };
}

/**
 * The module's bytes (small: browsers compile modules under 4 KiB synchronously on the main
 * thread): the three products, and KNN's int16 screen (knn_wasm.ts), which works on the
 * products in the same memory.
 */
export function assemble(): Uint8Array<ArrayBuffer> {
  return assembleModule([kernelCode('f64'), kernelCode('i16'), quantI16(), screenI16(), dot64()]);
}

type Kernel = (pa: number, pb: number, pc: number, m: number, n: number, rowBytes: number, ldcBytes: number) => void;

export interface WasmCross extends KnnKernels {
  cross: Kernel;
  /** int16 rows (rowBytes a multiple of 32), int32 results: exact while no lane passes 2^31. */
  crossI16: Kernel;
  /** The module's memory, after `reserve`. */
  buffer(): ArrayBuffer;
  /** A float64 view of at least `bytes` bytes of the module's memory (valid until the next call). */
  reserve(bytes: number): Float64Array;
}

let cached: WasmCross | null | undefined;
let compiled: { api: WasmApi; module: object } | null | undefined;
/** Above this the memory is dropped after use, so that one large product does not pin it. */
export const KEEP_BYTES = 256 * 2 ** 20;

/** The compiled module (once per thread), or null where WebAssembly SIMD is not available. */
function compiledModule(): { api: WasmApi; module: object } | null {
  if (compiled !== undefined) return compiled;
  try {
    const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const bytes = assemble();
    compiled = api && api.validate(bytes) ? { api, module: new api.Module(bytes) } : null;
  } catch {
    compiled = null;
  }
  return compiled;
}

/**
 * A new instance of the kernels with a memory of its own, or null where WebAssembly SIMD is
 * not available. Data kept in it (a model's rows, see linalg.ts's residentRows) stays put
 * until the instance is dropped; nothing else writes there.
 */
export function newWasmCross(): WasmCross | null {
  const c = compiledModule();
  if (!c) return null;
  try {
    const instance = new c.api.Instance(c.module);
    const memory = instance.exports['memory'] as WasmMemory;
    return {
      cross: instance.exports['cross'] as Kernel,
      crossI16: instance.exports['crossI16'] as Kernel,
      quantI16: instance.exports['quantI16'] as KnnKernels['quantI16'],
      screenI16: instance.exports['screenI16'] as KnnKernels['screenI16'],
      dot64: instance.exports['dot64'] as KnnKernels['dot64'],
      buffer: () => memory.buffer,
      reserve(bytes: number): Float64Array {
        reserveMemory(memory, bytes);
        return new Float64Array(memory.buffer);
      },
    };
  } catch {
    return null;
  }
}

/** The shared scratch instance, or null where WebAssembly SIMD is not available. */
export function wasmCross(): WasmCross | null {
  if (cached !== undefined) return cached;
  return (cached = newWasmCross());
}

/** Forgets the instance (and its memory) when it has grown large. */
export function releaseIfLarge(bytesUsed: number): void {
  if (bytesUsed > KEEP_BYTES) cached = undefined;
}
