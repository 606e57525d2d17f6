import type { GreyImage } from '../image/grey.ts';

/** Source indices and weight per output coordinate, for one axis. */
function axisTaps(inSize: number, outSize: number): { lo: Int32Array; hi: Int32Array; f: Float64Array } {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const f = new Float64Array(outSize);
  // The ratio first: `(x + 0.5) * in / size` rounds differently when size is not a power of two.
  const ratio = inSize / outSize;
  for (let x = 0; x < outSize; x++) {
    const s = ratio * (x + 0.5) - 0.5;
    const fl = Math.floor(s);
    lo[x] = Math.max(0, fl);
    hi[x] = Math.min(inSize - 1, Math.ceil(s));
    f[x] = s - fl;
  }
  return { lo, hi, f };
}

/**
 * Bilinear resize with half-pixel centres and no antialiasing, in double, rounded once to
 * float32: bit for bit `tf.image.resizeBilinear(x, [size, size], false, true)` on
 * tfjs-backend-cpu 4.22 (docs/features.md section 1). Writes into `out` at `offset` when given.
 */
export function resizeBilinear(
  image: GreyImage,
  size: number,
  out: Float32Array = new Float32Array(size * size),
  offset = 0,
): Float32Array {
  const { width, height, data } = image;
  const xs = axisTaps(width, size);
  const ys = axisTaps(height, size);
  for (let y = 0; y < size; y++) {
    const top = ys.lo[y]! * width;
    const bottom = ys.hi[y]! * width;
    const fy = ys.f[y]!;
    const row = offset + y * size;
    for (let x = 0; x < size; x++) {
      const l = xs.lo[x]!;
      const r = xs.hi[x]!;
      const fx = xs.f[x]!;
      const tl = data[top + l]!;
      const tr = data[top + r]!;
      const bl = data[bottom + l]!;
      const br = data[bottom + r]!;
      const t = tl + (tr - tl) * fx;
      const b = bl + (br - bl) * fx;
      out[row + x] = t + (b - t) * fy;
    }
  }
  return out;
}
