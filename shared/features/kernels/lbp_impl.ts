import { lbpBins, type LbpConfig } from '../spec.ts';

/** numpy's rint: round half to even. */
function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The circle's sampling offsets as scikit-image 0.19's `_local_binary_pattern` makes them:
 * R passed as a C float, `-R sin(2 pi i / P)` and `R cos(2 pi i / P)`, then numpy's
 * `round(x, 5)` (rint(x * 1e5) / 1e5).
 */
export function lbpOffsets(points: number, radius: number): { rows: Float64Array; cols: Float64Array } {
  const r = Math.fround(radius);
  const rows = new Float64Array(points);
  const cols = new Float64Array(points);
  for (let i = 0; i < points; i++) {
    const a = (2 * Math.PI * i) / points;
    rows[i] = rint(-r * Math.sin(a) * 1e5) / 1e5;
    cols[i] = rint(r * Math.cos(a) * 1e5) / 1e5;
  }
  return { rows, cols };
}

/**
 * The LBP code of every pixel of one `height x width` image (row-major, from `base`), as
 * `skimage.feature.local_binary_pattern(image, P, R, method)` on its float64 widening:
 * each circle point bilinearly interpolated with zeros outside the image, in scikit-image's
 * order of operations, and set where `point - centre >= 0`. `uniform`: the number of set
 * points when the chain (not closed into a circle) changes at most twice, else P + 1;
 * `default`: the sum of 2^i over the set points.
 */
export function lbpCodes(v: Float32Array, base: number, height: number, width: number, c: LbpConfig, out: Int32Array): Int32Array {
  const P = c.points;
  const { rows, cols } = lbpOffsets(P, c.radius);
  const set = new Uint8Array(P);
  const at = (r: number, col: number): number => (r < 0 || r >= height || col < 0 || col >= width ? 0 : v[base + r * width + col]!);
  for (let r = 0; r < height; r++) {
    for (let col = 0; col < width; col++) {
      const centre = v[base + r * width + col]!;
      for (let i = 0; i < P; i++) {
        const y = r + rows[i]!;
        const x = col + cols[i]!;
        const minr = Math.floor(y);
        const minc = Math.floor(x);
        const maxr = Math.ceil(y);
        const maxc = Math.ceil(x);
        const dr = y - minr;
        const dc = x - minc;
        const top = (1 - dc) * at(minr, minc) + dc * at(minr, maxc);
        const bottom = (1 - dc) * at(maxr, minc) + dc * at(maxr, maxc);
        set[i] = (1 - dr) * top + dr * bottom - centre >= 0 ? 1 : 0;
      }
      let code = 0;
      if (c.method === 'uniform') {
        let changes = 0;
        for (let i = 0; i < P - 1; i++) changes += set[i] !== set[i + 1] ? 1 : 0;
        if (changes <= 2) for (let i = 0; i < P; i++) code += set[i]!;
        else code = P + 1;
      } else {
        for (let i = 0; i < P; i++) code += set[i]! << i;
      }
      out[r * width + col] = code;
    }
  }
  return out;
}

/**
 * The LBP histograms of a batch of `height x width` images, one per config, concatenated in
 * the configs' order: counts of each code (`batch x sum of bins`). Dividing by the pixel
 * count, in double, gives the normalised histograms of docs/features.md section 6.
 */
export function lbpCountsImpl(images: Float32Array, batch: number, height: number, width: number, configs: readonly LbpConfig[]): Int32Array {
  const length = configs.reduce((n, c) => n + lbpBins(c), 0);
  const out = new Int32Array(batch * length);
  const pixels = height * width;
  const codes = new Int32Array(pixels);
  for (let k = 0; k < batch; k++) {
    let o = k * length;
    for (const c of configs) {
      lbpCodes(images, k * pixels, height, width, c, codes);
      for (let p = 0; p < pixels; p++) out[o + codes[p]!]!++;
      o += lbpBins(c);
    }
  }
  return out;
}
