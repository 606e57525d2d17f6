/** docs/features.md section 5: how close an implementation must come to the float64 reference. */
export const EXACT_TOLERANCE = { hogRelativeL2: 1e-4, scalar: 1e-5 } as const;
export const GPU_TOLERANCE = { hogRelativeL2: 1e-2, scalar: 1e-3 } as const;
export type Tolerance = typeof EXACT_TOLERANCE | typeof GPU_TOLERANCE;

/**
 * docs/features.md section 11, for the families after the seven: `hog2` as the HOG (its
 * relative L2 bound is the Tolerance's); the histograms (LBP, intensity, colour) identical,
 * value for value; every value of the GLCM properties per angle and of the moments within
 * `1e-5 * max(1, |b|)`. Every backend computes those on the CPU, so the bounds hold in the
 * browser's WebGL preview too.
 */
export const FAMILY_TOLERANCE = { histogram: 0, value: 1e-5 } as const;
/** The features a family tolerance covers, by kind. */
export const HISTOGRAM_FEATURES = ['lbp', 'intensityHistogram', 'colourHistogram'] as const;
export const VALUE_FEATURES = ['glcmAngles', 'intensityMoments', 'colourMoments', 'gabor'] as const;

/** The largest `scalarError` over a vector (Infinity when the lengths differ). */
export function worstValueError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, scalarError(a[i]!, b[i]!));
  return worst;
}

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
