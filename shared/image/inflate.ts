import { Inflate, Unzlib, inflateSync, unzlibSync } from 'fflate';

/**
 * DEFLATE with a budget: the output goes into a buffer of exactly the size the header
 * declares, the input is pushed in small steps, and the first step whose output would pass
 * the budget ends it. So a decompression bomb costs at most the budget plus one step's
 * output (DEFLATE expands at most 1032:1), never what the stream would inflate to.
 */

/** Compressed bytes per step: at most about 4 MiB of output each. */
export const INFLATE_STEP = 4096;
/** The smallest step, taken when the budget is nearly spent (at most about 256 KiB of output). */
export const INFLATE_MIN_STEP = 256;
/** The most one step can produce beyond the budget before it is refused. */
export const INFLATE_OVERSHOOT = INFLATE_STEP * 1032;
/**
 * Streams up to this long (compressed) are inflated in one call into a buffer of the budget
 * plus one byte, which fflate never grows: output past it is dropped, so memory stays at
 * the budget, and the work at 1032 times this at worst (about 66 MB of byte writes).
 * Stepping costs fflate a 128 KiB buffer and a 32 KiB window copy per push, which made a
 * small PNG (a few KiB in 256-byte steps) cost milliseconds.
 */
export const INFLATE_ONE_CALL = 64 * 1024;

/**
 * Work done by every bounded inflate in this thread (PNG, ZIP and DICOM's deflated data
 * sets), for tests and measurements: `bytesOut` never passes `budgets` plus one step's
 * overshoot per call.
 */
export const inflateCounters = { calls: 0, bytesOut: 0, refused: 0, largestBudget: 0, budgets: 0 };

export function resetInflateCounters(): void {
  Object.assign(inflateCounters, { calls: 0, bytesOut: 0, refused: 0, largestBudget: 0, budgets: 0 });
}

/** Counts one bounded inflate of `budget` bytes (for inflaters other than inflateBounded). */
export function countInflate(budget: number): void {
  inflateCounters.calls++;
  inflateCounters.budgets += budget;
  inflateCounters.largestBudget = Math.max(inflateCounters.largestBudget, budget);
}

export class InflateOverBudget extends Error {
  override name = 'InflateOverBudget';
  constructor(readonly budget: number) {
    super(`inflates to more than ${budget} bytes`);
  }
}

export interface InflateOptions {
  /** zlib-wrapped (PNG) or raw DEFLATE (ZIP). */
  zlib: boolean;
  /** Refuse with the error this gives once the output would pass the budget. */
  overBudget: (budget: number) => Error;
  /** The error for a damaged stream. */
  corrupt: (reason: string) => Error;
  /** Where the output goes (`budget` bytes long); a new buffer by default. */
  into?: Uint8Array;
  /**
   * The caller is done with the output before this thread inflates again (a PNG decoder
   * unfilters it and keeps nothing of it): a native inflater may then hand back a view of
   * the buffer it keeps, not a new one.
   */
  transient?: boolean;
}

/**
 * Inflates the concatenation of `parts` into at most `budget` bytes. Returns the buffer of
 * `budget` bytes and how many were produced; callers that know the exact size check it.
 */
export function inflateBounded(parts: readonly Uint8Array[], budget: number, options: InflateOptions): { out: Uint8Array; length: number } {
  countInflate(budget);
  const total = parts.reduce((n, p) => n + p.length, 0);
  if (nativeInflate && !options.into && total > 0) return inflateNative(nativeInflate, parts, total, budget, options);
  if (!options.into && total <= INFLATE_ONE_CALL && total > (options.zlib ? 10 : 0)) return inflateOneCall(parts, total, budget, options);
  const out = options.into ?? new Uint8Array(budget);
  if (out.length !== budget) throw new RangeError(`the output buffer holds ${out.length} bytes, not the budget of ${budget}`);
  let at = 0;
  const ondata = (chunk: Uint8Array) => {
    inflateCounters.bytesOut += chunk.length;
    if (at + chunk.length > budget) throw new InflateOverBudget(budget);
    out.set(chunk, at);
    at += chunk.length;
  };
  const inflater = options.zlib ? new Unzlib(ondata) : new Inflate(ondata);
  let pushed = 0;
  try {
    if (total === 0) inflater.push(new Uint8Array(0), true);
    for (const part of parts) {
      for (let o = 0; o < part.length; ) {
        // smaller steps while little of the budget is left: a bomb is caught after less work
        const size = Math.min(INFLATE_STEP, Math.max(INFLATE_MIN_STEP, Math.ceil((budget - at) / 1024)));
        const step = part.subarray(o, Math.min(o + size, part.length));
        o += step.length;
        pushed += step.length;
        inflater.push(step, pushed === total);
      }
    }
  } catch (e) {
    if (e instanceof InflateOverBudget) {
      inflateCounters.refused++;
      throw options.overBudget(budget);
    }
    throw options.corrupt(e instanceof Error ? e.message : String(e));
  }
  return { out, length: at };
}

/**
 * A native inflater of raw DEFLATE that throws `InflateOverBudget` once its output would pass
 * `maxOutput`, having done no more than that much work. Where one is set (the server sets
 * node:zlib's), every stream without an `into` buffer goes through it; the browser keeps
 * fflate. `transient` as in InflateOptions.
 */
export type NativeInflate = (raw: Uint8Array, maxOutput: number, transient: boolean) => Uint8Array;
let nativeInflate: NativeInflate | undefined;

export function setNativeInflate(inflate: NativeInflate | undefined): void {
  nativeInflate = inflate;
}

/**
 * The raw DEFLATE body of a zlib stream, after the checks fflate makes (method 8, window,
 * header check, no preset dictionary); like fflate, the Adler-32 trailer is not checked, so
 * both inflaters accept and refuse the same streams.
 */
function zlibBody(data: Uint8Array): Uint8Array {
  if (data.length < 6 || (data[0]! & 15) !== 8 || data[0]! >> 4 > 7 || ((data[0]! << 8) | data[1]!) % 31) throw new Error('invalid zlib data');
  if (data[1]! & 32) throw new Error('invalid zlib data: need dictionary');
  return data.subarray(2, -4);
}

function inflateNative(inflate: NativeInflate, parts: readonly Uint8Array[], total: number, budget: number, options: InflateOptions): { out: Uint8Array; length: number } {
  const data = concat(parts, total);
  let out: Uint8Array;
  try {
    out = inflate(options.zlib ? zlibBody(data) : data, budget, options.transient ?? false);
  } catch (e) {
    if (e instanceof InflateOverBudget) {
      inflateCounters.bytesOut += budget + 1;
      inflateCounters.refused++;
      throw options.overBudget(budget);
    }
    throw options.corrupt(e instanceof Error ? e.message : String(e));
  }
  inflateCounters.bytesOut += out.length;
  if (out.length > budget) {
    inflateCounters.refused++;
    throw options.overBudget(budget);
  }
  if (out.length === budget) return { out, length: budget };
  const full = new Uint8Array(budget);
  full.set(out);
  return { out: full, length: out.length };
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const data = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  return data;
}

/** inflateBounded for a short stream, in one call (see INFLATE_ONE_CALL). */
function inflateOneCall(parts: readonly Uint8Array[], total: number, budget: number, options: InflateOptions): { out: Uint8Array; length: number } {
  const data = concat(parts, total);
  // The extra byte tells output that passed the budget from output that filled it. (fflate
  // hands back the buffer itself for an empty body: hence more than a zlib header and
  // trailer, with a dictionary id, before this path is taken.)
  const buffer = new Uint8Array(budget + 1);
  let length: number;
  try {
    length = (options.zlib ? unzlibSync : inflateSync)(data, { out: buffer }).length;
  } catch (e) {
    // fflate copies a stored block with a typed-array set, which throws past the buffer's end
    if (e instanceof RangeError) length = budget + 1;
    else throw options.corrupt(e instanceof Error ? e.message : String(e));
  }
  inflateCounters.bytesOut += length;
  if (length > budget) {
    inflateCounters.refused++;
    throw options.overBudget(budget);
  }
  return { out: buffer.subarray(0, budget), length };
}
