/**
 * Bin of a gradient exactly as scikit-image decides it: theta = degrees(atan2(gy, gx)) mod 180
 * in double (numpy's floor-mod), bin i where (180/n) i <= theta < (180/n) (i + 1), and no bin
 * at all when the mod rounds up to 180. Returns -1 for no bin.
 */
export function referenceBin(gx: number, gy: number, n: number): number {
  let t = Math.atan2(gy, gx) * (180 / Math.PI);
  if (t < 0) t += 180;
  const width = 180 / n;
  for (let i = 0; i < n; i++) if (width * i <= t && t < width * (i + 1)) return i;
  return -1;
}

// atan(r) on [-1, 1] to within 1e-5 rad (Abramowitz and Stegun 4.4.49).
export const A1 = 0.999866;
export const A3 = -0.3302995;
export const A5 = 0.180141;
export const A7 = -0.085133;
export const A9 = 0.0208351;
/**
 * Fractions of a bin within which the approximate angle could sit on the wrong side of an
 * edge: 1e-5 rad is at most 1.2e-4 of a bin for 36 orientations, so this leaves room eightfold.
 */
export const NEAR_EDGE = 1e-3;

/**
 * The bin of any gradient where the approximate angle cannot decide: none for a zero
 * gradient, 0 for gy == 0 (atan2(0, x) mod 180 is 0 for either sign of x), else the reference.
 */
export function exactBin(gx: number, gy: number, n: number): number {
  if (gy === 0) return gx === 0 ? -1 : 0;
  return referenceBin(gx, gy, n);
}

/**
 * The bin of a gradient: an approximate arctangent places it, and only where that lands
 * near a bin edge (or is undefined) does exactBin decide, so every gradient goes exactly
 * where scikit-image puts it. No data-dependent branch on the common path: the quadrant of
 * an image's gradients is close to random. (cellHistograms inlines the same steps.)
 */
export function fastBin(gx: number, gy: number, n: number): number {
  const ax = Math.abs(gx);
  const ay = Math.abs(gy);
  // atan(ay / ax) = pi/4 + atan((ay - ax) / (ay + ax)): one polynomial for every quadrant
  const r = (ay - ax) / (ay + ax);
  const r2 = r * r;
  const t = Math.PI / 4 + r * (A1 + r2 * (A3 + r2 * (A5 + r2 * (A7 + r2 * A9))));
  // theta mod 180 is t where the signs of gx and gy agree, 180 - t where they differ
  const flip = +(gx * gy < 0);
  const u = flip * n + (1 - 2 * flip) * t * (n / Math.PI);
  const bin = Math.floor(u);
  const frac = u - bin;
  return frac >= NEAR_EDGE && frac <= 1 - NEAR_EDGE ? bin : exactBin(gx, gy, n);
}

