/**
 * The few pieces of the WebAssembly binary format the hand-assembled kernels need (no
 * toolchain, no binary blob): LEB128 numbers, sections, one memory, functions over i32, f64
 * and v128 locals, and a compile that answers null where WebAssembly or its SIMD is missing.
 */

export const u32 = (v: number): number[] => {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};

export const s32 = (v: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};

export const vec = (items: number[][]): number[] => [...u32(items.length), ...items.flat()];
export const section = (id: number, body: number[]): number[] => [id, ...u32(body.length), ...body];
export const name = (s: string): number[] => [...u32(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

/** One exported function: its parameter and result types, its extra locals by type, and its body (without the final end). */
export interface WasmFunction {
  name: string;
  params: number[];
  results: number[];
  locals: [count: number, type: number][];
  body: number[];
}

/** A module of `functions` (each its own type), all exported, with one memory of one page exported as `memory`. */
export function assembleModule(functions: readonly WasmFunction[]): Uint8Array<ArrayBuffer> {
  const code = functions.map((f) => {
    const body = [...vec(f.locals.map(([count, type]) => [...u32(count), type])), ...f.body, 0x0b];
    return [...u32(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec(functions.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec(f.results.map((r) => [r]))]))),
    ...section(3, vec(functions.map((_, i) => u32(i)))),
    ...section(5, vec([[0x00, 1]])),
    ...section(7, vec([...functions.map((f, i) => [...name(f.name), 0, ...u32(i)]), [...name('memory'), 2, 0]])),
    ...section(10, vec(code)),
  ]);
}

/*
 * Instructions, by the names of the text format (upper case; `V_` is f64x2). Memory
 * accesses take offset 0 and their natural alignment as the hint.
 */
export const get = (i: number): number[] => [0x20, ...u32(i)];
export const set = (i: number): number[] => [0x21, ...u32(i)];
export const tee = (i: number): number[] => [0x22, ...u32(i)];
export const i32c = (v: number): number[] => [0x41, ...s32(v)];
export const f64c = (v: number): number[] => [0x44, ...new Uint8Array(new Float64Array([v]).buffer)];
export const simd = (op: number): number[] => [0xfd, ...u32(op)];
/** A v128 constant holding `v` in both f64 lanes. */
export const f64x2c = (v: number): number[] => [...simd(0x0c), ...new Uint8Array(new Float64Array([v, v]).buffer)];
export const br = (depth: number): number[] => [0x0c, depth];
export const brIf = (depth: number): number[] => [0x0d, depth];
export const BLOCK = [0x02, 0x40];
export const LOOP = [0x03, 0x40];
export const IF = [0x04, 0x40];
export const END = [0x0b];
export const ADD = [0x6a];
export const SUB = [0x6b];
export const MUL = [0x6c];
export const AND = [0x71];
export const SHL = [0x74];
export const GE_S = [0x4e];
export const LT_S = [0x48];
export const I32_LOAD = [0x28, 2, 0];
export const I32_STORE = [0x36, 2, 0];
export const F64_LOAD = [0x2b, 3, 0];
export const F64_STORE = [0x39, 3, 0];
export const F32_STORE = [0x38, 2, 0];
export const F64_ADD = [0xa0];
export const F64_MUL = [0xa2];
export const F64_DIV = [0xa3];
export const F64_MIN = [0xa4];
export const F64_MAX = [0xa5];
export const F64_SUB = [0xa1];
export const F64_ABS = [0x99];
export const F64_NEG = [0x9a];
export const F64_NEAREST = [0x9e];
export const F64_GT = [0x64];
export const GE_U = [0x4f];
export const SELECT = [0x1b];
export const I32_TRUNC_F64_S = [0xaa];
export const F64_CONVERT_I32_S = [0xb7];
export const I32_STORE16 = [0x3b, 1, 0];
/** f64.store at a constant byte offset from the address. */
export const f64StoreAt = (offset: number): number[] => [0x39, 3, ...u32(offset)];
export const F64_SQRT = [0x9f];
export const F32_DEMOTE_F64 = [0xb6];
export const V128_STORE = [...simd(0x0b), 3, 0];
export const LOAD64_ZERO = [...simd(0x5d), 3, 0];
export const STORE64_LANE0 = [...simd(0x5b), 3, 0, 0];
export const PROMOTE_LOW = simd(0x5f);
export const V_ADD = simd(0xf0);
export const V_SUB = simd(0xf1);
export const V_MUL = simd(0xf2);
export const V_DIV = simd(0xf3);
export const V_ABS = simd(0xec);
export const V_SQRT = simd(0xef);
export const V_FLOOR = simd(0x75);
export const V_LT = simd(0x49);
export const V_LE = simd(0x4b);
export const V_GE = simd(0x4c);
export const V_SPLAT = simd(0x14);
export const V128_AND = simd(0x4e);
export const V128_NOT = simd(0x4d);
export const BITSELECT = simd(0x52);
export const I64X2_BITMASK = simd(0xc4);
export const I32X4_TRUNC_SAT_F64X2_ZERO = simd(0xfc);
export const I32X4_ADD = simd(0xae);
export const I32X4_MIN_S = simd(0xb6);
export const I32X4_MAX_S = simd(0xb8);
export const I32X4_SPLAT = simd(0x11);

/** Code appended piece by piece. */
export function emitter(): { code: number[]; e: (...pieces: number[][]) => void } {
  const code: number[] = [];
  return {
    code,
    e: (...pieces) => {
      for (const p of pieces) code.push(...p);
    },
  };
}

/**
 * The little of the WebAssembly JS API used here, typed locally: the server build's lib
 * (ES2023 without DOM) does not declare the WebAssembly global, though Node has it.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export interface WasmApi {
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
  Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

export const WASM_PAGE = 65536;

/** A new instance of `bytes` (compiled synchronously: keep modules under 4 KiB for browsers' main threads), or null where it cannot run. */
export function instantiate(bytes: Uint8Array<ArrayBuffer>): Record<string, unknown> | null {
  try {
    const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (!api || !api.validate(bytes)) return null;
    return new api.Instance(new api.Module(bytes)).exports;
  } catch {
    return null;
  }
}

/** Grows `memory` to at least `bytes` bytes. */
export function reserveMemory(memory: WasmMemory, bytes: number): void {
  const need = Math.ceil(bytes / WASM_PAGE) - memory.buffer.byteLength / WASM_PAGE;
  if (need > 0) memory.grow(need);
}
