import { Inflate, Unzlib } from 'fflate';

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
}

/**
 * Inflates the concatenation of `parts` into at most `budget` bytes. Returns the buffer of
 * `budget` bytes and how many were produced; callers that know the exact size check it.
 */
export function inflateBounded(parts: readonly Uint8Array[], budget: number, options: InflateOptions): { out: Uint8Array; length: number } {
  countInflate(budget);
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
  const total = parts.reduce((n, p) => n + p.length, 0);
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
