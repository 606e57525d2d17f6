/** Pixel offsets (rows, columns) of angles 0, 45, 90 and 135 degrees at distance 1: round(sin a), round(cos a). */
export const GLCM_OFFSETS: readonly (readonly [number, number])[] = [
  [0, 1],
  [1, 1],
  [1, 0],
  [1, -1],
];
export const GLCM_PROPERTIES = ['energy', 'contrast', 'homogeneity', 'correlation'] as const;

/** q = min(levels - 1, floor(v * levels)), the product in double (FEATURES.md section 3). */
export function quantise(v: Float32Array, base: number, count: number, levels: number, out: Uint16Array): Uint16Array {
  const top = levels - 1;
  for (let i = 0; i < count; i++) {
    const q = Math.floor(v[base + i]! * levels);
    out[i] = q < top ? q : top;
  }
  return out;
}

/** Visits every in-image pixel pair (i, j) at the given offset. */
function forEachPair(q: Uint16Array, height: number, width: number, dr: number, dc: number, visit: (i: number, j: number) => void): void {
  const c0 = Math.max(0, -dc);
  const c1 = Math.min(width, width - dc);
  const step = dr * width + dc;
  for (let r = 0; r < height - dr; r++) {
    for (let p = r * width + c0, end = r * width + c1; p < end; p++) visit(q[p]!, q[p + step]!);
  }
}

/**
 * The four GLCM properties of a batch of `height x width` images, each the mean over the
 * four angles (`batch x 4`: energy, contrast, homogeneity, correlation), as scikit-image's
 * symmetric, normalised `graycomatrix` and `graycoprops`.
 *
 * Every property except energy is a sum over pixel pairs of a function of (i, j), so it is
 * summed straight from the pairs; the sums of i, i^2 and ij are integers, exact in double,
 * which makes the correlation exact too. Energy needs sum(P^2): the symmetric count matrix
 * is kept and its sum of squares updated as each count grows.
 */
export function glcmFeaturesImpl(images: Float32Array, batch: number, height: number, width: number, levels: number): Float64Array {
  const out = new Float64Array(batch * 4);
  const pixels = height * width;
  const q = new Uint16Array(pixels);
  const counts = new Int32Array(levels * levels);
  const homogeneityWeight = new Float64Array(levels);
  for (let d = 0; d < levels; d++) homogeneityWeight[d] = 1 / (1 + d * d);
  for (let k = 0; k < batch; k++) {
    quantise(images, k * pixels, pixels, levels, q);
    let energy = 0;
    let contrast = 0;
    let homogeneity = 0;
    let correlation = 0;
    for (const [dr, dc] of GLCM_OFFSETS) {
      let pairs = 0;
      let squares = 0; // sum of S^2 over the symmetric count matrix S
      let sumD2 = 0;
      let sumW = 0;
      let sumI = 0; // over S: sum of i S_ij, equal to sum of j S_ij
      let sumII = 0;
      let sumIJ = 0;
      forEachPair(q, height, width, dr, dc, (i, j) => {
        pairs++;
        const d = i > j ? i - j : j - i;
        sumD2 += d * d;
        sumW += homogeneityWeight[d]!;
        sumI += i + j;
        sumII += i * i + j * j;
        sumIJ += 2 * i * j;
        const a = i * levels + j;
        const s = counts[a]!;
        if (i === j) {
          squares += 4 * s + 4; // S_ii grows by 2
          counts[a] = s + 2;
        } else {
          squares += 2 * (2 * s + 1); // S_ij and S_ji both grow by 1
          counts[a] = s + 1;
          counts[j * levels + i] = s + 1;
        }
      });
      forEachPair(q, height, width, dr, dc, (i, j) => {
        counts[i * levels + j] = 0;
        counts[j * levels + i] = 0;
      });
      if (pairs === 0) {
        correlation += 1; // an empty matrix: energy, contrast, homogeneity 0, correlation 1
        continue;
      }
      const total = 2 * pairs;
      energy += Math.sqrt(squares) / total;
      contrast += sumD2 / pairs;
      homogeneity += sumW / pairs;
      // var * total^2 = total * sum(i^2 S) - (sum(i S))^2, an exact integer for all but huge images
      const variance = total * sumII - sumI * sumI;
      const covariance = total * sumIJ - sumI * sumI;
      correlation += variance <= 0 ? 1 : covariance / variance;
    }
    const m = GLCM_OFFSETS.length;
    out[k * 4] = energy / m;
    out[k * 4 + 1] = contrast / m;
    out[k * 4 + 2] = homogeneity / m;
    out[k * 4 + 3] = correlation / m;
  }
  return out;
}

/** The symmetric, normalised co-occurrence matrices themselves: `batch x 4 angles x levels x levels`. */
export function glcmImpl(images: Float32Array, batch: number, height: number, width: number, levels: number): Float32Array {
  const pixels = height * width;
  const size = levels * levels;
  const out = new Float32Array(batch * GLCM_OFFSETS.length * size);
  const q = new Uint16Array(pixels);
  const counts = new Float64Array(size);
  for (let k = 0; k < batch; k++) {
    quantise(images, k * pixels, pixels, levels, q);
    GLCM_OFFSETS.forEach(([dr, dc], a) => {
      counts.fill(0);
      let total = 0;
      forEachPair(q, height, width, dr, dc, (i, j) => {
        counts[i * levels + j]! += 1;
        counts[j * levels + i]! += 1;
        total += 2;
      });
      const base = (k * GLCM_OFFSETS.length + a) * size;
      if (total > 0) for (let t = 0; t < size; t++) out[base + t] = counts[t]! / total;
    });
  }
  return out;
}
