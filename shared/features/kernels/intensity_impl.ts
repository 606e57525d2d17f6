/**
 * The bin of an intensity in [0, 1] among `bins` equal bins, as numpy's `histogram(v,
 * bins, range=(0, 1))` decides it on the float64 value: a first guess from `v * bins`, then
 * corrected against the edges `linspace(0, 1, bins + 1)` (`i * (1 / bins)`, the last 1), so
 * a value on an edge goes to the bin above it and 1 to the last bin.
 */
export function histogramBin(v: number, bins: number, step: number): number {
  let i = Math.trunc(v * bins);
  if (i === bins) i -= 1;
  if (v < i * step) i -= 1;
  if (i !== bins - 1 && v >= (i + 1) * step) i += 1;
  return i;
}

/** Counts per bin of each `pixels`-long image of a batch: `batch x bins` (docs/features.md section 9). */
export function histogramCountsImpl(images: Float32Array, batch: number, pixels: number, bins: number): Int32Array {
  const out = new Int32Array(batch * bins);
  const step = 1 / bins;
  for (let k = 0; k < batch; k++) {
    const o = k * bins;
    for (let p = k * pixels, end = p + pixels; p < end; p++) out[o + histogramBin(images[p]!, bins, step)]!++;
  }
  return out;
}

/**
 * Mean, population variance, skewness `m3 / m2^1.5`, Fisher kurtosis `m4 / m2^2 - 3` (both 0
 * when the variance is 0) and the entropy in bits of the `bins`-bin histogram, of each
 * `pixels`-long image of a batch, in double: `batch x 5` (docs/features.md section 9).
 */
export function momentsImpl(images: Float32Array, batch: number, pixels: number, bins: number): Float64Array {
  const out = new Float64Array(batch * 5);
  const counts = histogramCountsImpl(images, batch, pixels, bins);
  for (let k = 0; k < batch; k++) {
    const base = k * pixels;
    let sum = 0;
    for (let p = base; p < base + pixels; p++) sum += images[p]!;
    const mean = sum / pixels;
    let s2 = 0;
    let s3 = 0;
    let s4 = 0;
    for (let p = base; p < base + pixels; p++) {
      const d = images[p]! - mean;
      const d2 = d * d;
      s2 += d2;
      s3 += d2 * d;
      s4 += d2 * d2;
    }
    const m2 = s2 / pixels;
    const skewness = m2 === 0 ? 0 : s3 / pixels / m2 ** 1.5;
    const kurtosis = m2 === 0 ? 0 : s4 / pixels / (m2 * m2) - 3;
    let entropy = 0;
    for (let b = 0; b < bins; b++) {
      const c = counts[k * bins + b]!;
      if (c === 0) continue;
      const p = c / pixels;
      entropy -= p * Math.log2(p);
    }
    out.set([mean, m2, skewness, kurtosis, entropy], k * 5);
  }
  return out;
}
