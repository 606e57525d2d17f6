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
 * Per row (or column) `t` and point `i`, what the interpolation needs of `t + offset[i]`:
 * the floor and ceiling (as indices into a zero-padded image) and the fraction. They depend
 * on the row (or column) alone, so the pixel loop computes none of them.
 */
function axisTable(count: number, offsets: Float64Array, pad: number, stride: number): { lo: Int32Array; hi: Int32Array; f: Float64Array } {
  const P = offsets.length;
  const lo = new Int32Array(count * P);
  const hi = new Int32Array(count * P);
  const f = new Float64Array(count * P);
  for (let t = 0; t < count; t++) {
    for (let i = 0; i < P; i++) {
      const y = t + offsets[i]!;
      const fl = Math.floor(y);
      lo[t * P + i] = (fl + pad) * stride;
      hi[t * P + i] = (Math.ceil(y) + pad) * stride;
      f[t * P + i] = y - fl;
    }
  }
  return { lo, hi, f };
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
  // A zero border as wide as the circle reaches, so no read needs a bounds test.
  const pad = Math.ceil(Math.fround(c.radius)) + 1;
  const pw = width + 2 * pad;
  const padded = new Float64Array((height + 2 * pad) * pw);
  for (let r = 0; r < height; r++) for (let col = 0; col < width; col++) padded[(r + pad) * pw + col + pad] = v[base + r * width + col]!;
  const ys = axisTable(height, rows, pad, pw);
  const xs = axisTable(width, cols, pad, 1);
  const set = new Uint8Array(P);
  const uniform = c.method === 'uniform';
  for (let r = 0; r < height; r++) {
    for (let col = 0; col < width; col++) {
      const centre = v[base + r * width + col]!;
      for (let i = 0; i < P; i++) {
        const ry = r * P + i;
        const cx = col * P + i;
        const top = ys.lo[ry]!;
        const bottom = ys.hi[ry]!;
        const left = xs.lo[cx]!;
        const right = xs.hi[cx]!;
        const dr = ys.f[ry]!;
        const dc = xs.f[cx]!;
        const t = (1 - dc) * padded[top + left]! + dc * padded[top + right]!;
        const b = (1 - dc) * padded[bottom + left]! + dc * padded[bottom + right]!;
        set[i] = (1 - dr) * t + dr * b - centre >= 0 ? 1 : 0;
      }
      let code = 0;
      if (uniform) {
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
