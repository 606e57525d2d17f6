/** scikit-image's `_sigma_prefactor(bandwidth)`: the Gaussian's sigma times the frequency, for a bandwidth in octaves. */
const sigmaPrefactor = (b: number): number => ((1.0 / Math.PI) * Math.sqrt(Math.log(2) / 2.0) * (2.0 ** b + 1)) / (2.0 ** b - 1);

/**
 * `skimage.filters.gabor_kernel(frequency, theta)` (bandwidth 1, n_stds 3, offset 0): real and
 * imaginary parts, `(2 y0 + 1) x (2 x0 + 1)`, row-major, in double.
 */
export function gaborKernel(frequency: number, theta: number): { re: Float64Array; im: Float64Array; x0: number; y0: number } {
  const sigma = sigmaPrefactor(1) / frequency;
  const ct = Math.cos(theta);
  const st = Math.sin(theta);
  const x0 = Math.ceil(Math.max(Math.abs(3 * sigma * ct), Math.abs(3 * sigma * st), 1));
  const y0 = Math.ceil(Math.max(Math.abs(3 * sigma * ct), Math.abs(3 * sigma * st), 1));
  const w = 2 * x0 + 1;
  const re = new Float64Array((2 * y0 + 1) * w);
  const im = new Float64Array(re.length);
  const scale = 1 / (2 * Math.PI * sigma * sigma);
  for (let y = -y0; y <= y0; y++) {
    for (let x = -x0; x <= x0; x++) {
      const rotx = x * ct + y * st;
      const roty = -x * st + y * ct;
      const a = Math.exp(-0.5 * (rotx ** 2 / sigma ** 2 + roty ** 2 / sigma ** 2));
      const b = 2 * Math.PI * frequency * rotx;
      re[(y + y0) * w + x + x0] = a * Math.cos(b) * scale;
      im[(y + y0) * w + x + x0] = a * Math.sin(b) * scale;
    }
  }
  return { re, im, x0, y0 };
}

/** scipy.ndimage's `reflect` extension (d c b a | a b c d | d c b a), for any distance. */
function reflect(i: number, n: number): number {
  const m = ((i % (2 * n)) + 2 * n) % (2 * n);
  return m < n ? m : 2 * n - 1 - m;
}

/** Number of values of gaborImpl per image. */
export const gaborLength = (frequencies: readonly number[], orientations: number): number => 2 * frequencies.length * orientations;

/**
 * Gabor filter-bank energies of a batch of `height x width` images (docs/features.md
 * section 12): for each frequency and each theta = k pi / n, the image convolved with the
 * real and imaginary kernels as `ndi.convolve(mode='reflect')` does, then the mean and the
 * population variance of the magnitude `sqrt(re^2 + im^2)`. `batch x frequencies x n x 2`.
 */
export function gaborImpl(images: Float32Array, batch: number, height: number, width: number, frequencies: readonly number[], orientations: number): Float64Array {
  const per = gaborLength(frequencies, orientations);
  const out = new Float64Array(batch * per);
  const pixels = height * width;
  const magnitude = new Float64Array(pixels);
  const kernels = frequencies.flatMap((f) => Array.from({ length: orientations }, (_, k) => gaborKernel(f, (k * Math.PI) / orientations)));
  for (let b = 0; b < batch; b++) {
    const base = b * pixels;
    kernels.forEach(({ re, im, x0, y0 }, q) => {
      const kw = 2 * x0 + 1;
      const kh = 2 * y0 + 1;
      // the column each kernel column reads, per output column (reflected at the edges)
      const cols = new Int32Array(width * kw);
      for (let c = 0; c < width; c++) for (let j = 0; j < kw; j++) cols[c * kw + j] = reflect(c + x0 - j, width);
      let sum = 0;
      for (let r = 0; r < height; r++) {
        for (let c = 0; c < width; c++) {
          let sr = 0;
          let si = 0;
          for (let i = 0; i < kh; i++) {
            const row = base + reflect(r + y0 - i, height) * width;
            const k = i * kw;
            for (let j = 0; j < kw; j++) {
              const v = images[row + cols[c * kw + j]!]!;
              sr += re[k + j]! * v;
              si += im[k + j]! * v;
            }
          }
          const m = Math.sqrt(sr * sr + si * si);
          magnitude[r * width + c] = m;
          sum += m;
        }
      }
      const mean = sum / pixels;
      let sq = 0;
      for (let p = 0; p < pixels; p++) sq += (magnitude[p]! - mean) ** 2;
      out[b * per + 2 * q] = mean;
      out[b * per + 2 * q + 1] = sq / pixels;
    });
  }
  return out;
}
