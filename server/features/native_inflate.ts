import * as zlib from 'node:zlib';
import { setNativeCrc32 } from '../../shared/image/crc32.ts';
import { InflateOverBudget, setNativeInflate, type NativeInflate } from '../../shared/image/inflate.ts';

/**
 * node:zlib as the bounded inflater of this process: about three times fflate's speed on
 * small PNGs, and it stops one byte past the budget, in memory and in work.
 */

/** Outputs up to this size go through the thread's kept zlib context and buffer; larger ones through inflateRawSync. */
const KEPT_OUTPUT = 4 << 20;

/** inflateRawSync, which stops at `maxOutputLength`. */
export function inflateOnce(raw: Uint8Array, budget: number): Uint8Array {
  try {
    return zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, budget) });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw new InflateOverBudget(budget);
    throw e;
  }
}

/** The native zlib handle inside a node:zlib stream, as node's own synchronous calls use it. */
interface ZlibHandle {
  reset(): void;
  writeSync(flush: number, input: Uint8Array, inOffset: number, inLength: number, out: Uint8Array, outOffset: number, outLength: number): void;
  onerror: (message: string, errno: number, code?: string) => void;
}

/**
 * One raw-inflate context kept by the thread, reset for each stream, writing into one kept
 * buffer: inflateRawSync builds a stream object, a zlib context and 16 KiB of output buffers
 * per call, which on thousands of small PNGs cost twice the inflating (about 60 of 90 us
 * on a 64x64 image, most of it in allocation and page faults). The handle is not public
 * API: it is the one node:zlib's synchronous functions drive (lib/zlib.js, processChunkSync),
 * found by testing for it; where a Node lacks it, this gives undefined and inflateRawSync
 * serves. Errors are zlib's own messages, as inflateRawSync throws them.
 */
export function keptInflater(): NativeInflate | undefined {
  const stream = new zlib.InflateRaw() as unknown as { _handle?: Partial<ZlibHandle>; _writeState?: unknown };
  const handle = stream._handle;
  const state = stream._writeState;
  if (typeof handle?.writeSync !== 'function' || typeof handle.reset !== 'function' || !(state instanceof Uint32Array) || state.length < 2) return undefined;
  const zlibHandle = handle as ZlibHandle;
  let failure: Error | undefined;
  // replaces node's handler, which would destroy the stream and close the context
  zlibHandle.onerror = (message, errno, code) => {
    failure = Object.assign(new Error(message), { errno, code });
  };
  let buffer = new Uint8Array(64 << 10);
  return (raw, budget, transient) => {
    if (budget + 1 > KEPT_OUTPUT) return inflateOnce(raw, budget);
    if (buffer.length < budget + 1) buffer = new Uint8Array(Math.min(KEPT_OUTPUT, Math.max(2 * buffer.length, budget + 1)));
    failure = undefined;
    zlibHandle.reset();
    // one byte past the budget: output that fills it tells a longer stream from one that fits exactly
    zlibHandle.writeSync(zlib.constants.Z_FINISH, raw, 0, raw.length, buffer, 0, budget + 1);
    if (failure) throw failure;
    const length = budget + 1 - state[0]!;
    if (length > budget) throw new InflateOverBudget(budget);
    return transient ? buffer.subarray(0, length) : buffer.slice(0, length);
  };
}

let inflater: NativeInflate | undefined;

/** node:zlib's inflate and CRC-32 (the latter where this Node has it: 20.15 and later) for PNG, ZIP and DICOM. */
export function useNativeInflate(): void {
  inflater ??= keptInflater() ?? inflateOnce;
  setNativeInflate(inflater);
  const crc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
  if (typeof crc32 === 'function') setNativeCrc32((data) => crc32(data));
}
