/** docs/features.md section 5: how close an implementation must come to the float64 reference. */
export const EXACT_TOLERANCE = { hogRelativeL2: 1e-4, scalar: 1e-5 } as const;
export const GPU_TOLERANCE = { hogRelativeL2: 1e-2, scalar: 1e-3 } as const;
export type Tolerance = typeof EXACT_TOLERANCE | typeof GPU_TOLERANCE;

export function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** `|a - b| / max(1, |b|)`, the measure the scalar tolerance bounds. */
export const scalarError = (a: number, b: number): number => Math.abs(a - b) / Math.max(1, Math.abs(b));
