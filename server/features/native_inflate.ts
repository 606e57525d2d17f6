import * as zlib from 'node:zlib';
import { setNativeCrc32 } from '../../shared/image/crc32.ts';
import { InflateOverBudget, setNativeInflate } from '../../shared/image/inflate.ts';

/**
 * node:zlib as the bounded inflater of this process: about three times fflate's speed on
 * small PNGs, and `maxOutputLength` stops it one byte past the budget, in memory and in work.
 */
function inflateWithZlib(raw: Uint8Array, budget: number): Uint8Array {
  try {
    return zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, budget) });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw new InflateOverBudget(budget);
    throw e;
  }
}

/** node:zlib's inflate and CRC-32 (the latter where this Node has it: 20.15 and later) for PNG, ZIP and DICOM. */
export function useNativeInflate(): void {
  setNativeInflate(inflateWithZlib);
  const crc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
  if (typeof crc32 === 'function') setNativeCrc32((data) => crc32(data));
}
