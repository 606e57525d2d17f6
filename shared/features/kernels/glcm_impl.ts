import { reserveMemory } from '../../wasm/assemble.ts';
import { glcmWasm } from './glcm_wasm.ts';

/** Pixel offsets (rows, columns) of angles 0, 45, 90 and 135 degrees at distance 1: round(sin a), round(cos a). */
export const GLCM_OFFSETS: readonly (readonly [number, number])[] = [
  [0, 1],
  [1, 1],
  [1, 0],
  [1, -1],
];
export const GLCM_PROPERTIES = ['energy', 'contrast', 'homogeneity', 'correlation'] as const;

/** q = min(levels - 1, floor(v * levels)), the product in double (docs/features.md section 3). */
export function quantise(v: Float32Array, base: number, count: number, levels: number, out: Uint16Array): Uint16Array {
  const top = levels - 1;
  for (let i = 0; i < count; i++) {
    const q = Math.floor(v[base + i]! * levels);
    out[i] = q < top ? q : top;
  }
  return out;
}

/** The pixel-index range of an offset's pairs: rows [0, rows), columns [c0, c1), partner at +step. */
function pairRange(height: number, width: number, dr: number, dc: number): { rows: number; c0: number; c1: number; step: number } {
  return { rows: Math.max(0, height - dr), c0: Math.max(0, -dc), c1: Math.min(width, width - dc), step: dr * width + dc };
}

/** Adds the co-occurrence counts of all four offsets of one image into `counts` (4 x levels x levels, not symmetrised). */
function countPairs(q: Uint16Array, height: number, width: number, levels: number, counts: Int32Array): void {
  const ll = levels * levels;
  for (let a = 0; a < GLCM_OFFSETS.length; a++) {
    const [dr, dc] = GLCM_OFFSETS[a]!;
    const { rows, c0, c1, step } = pairRange(height, width, dr, dc);
    const base = a * ll;
    for (let r = 0; r < rows; r++) {
      for (let p = r * width + c0, end = r * width + c1; p < end; p++) counts[base + q[p]! * levels + q[p + step]!]!++;
    }
  }
}

interface Scratch {
  pixels: number;
  levels: number;
  q: Uint16Array;
  /** Always all zeros between images: each image clears what it counted. */
  counts: Int32Array;
  homogeneityWeight: Float64Array;
  /** Where the WebAssembly loops run: the image, q and the counts (then a view of it) in its memory, by byte offset. */
  wasm: { image: Float32Array; img: number; q: number; counts: number } | null;
}
let scratch: Scratch | null = null;

/** Working buffers for one size and level count, kept between calls: a batch of one would spend as long allocating them. */
function scratchFor(pixels: number, levels: number): Scratch {
  if (scratch?.pixels !== pixels || scratch.levels !== levels) {
    const homogeneityWeight = new Float64Array(levels);
    for (let d = 0; d < levels; d++) homogeneityWeight[d] = 1 / (1 + d * d);
    const countsLength = GLCM_OFFSETS.length * levels * levels;
    const wasm = glcmWasm();
    if (wasm) {
      // the image and q with a spare entry each: quantise goes two pixels at a time
      const img = 0;
      const q = Math.ceil(((pixels + 2) * 4) / 16) * 16;
      const counts = q + Math.ceil(((pixels + 2) * 4) / 16) * 16;
      reserveMemory(wasm.memory, counts + countsLength * 4);
      const buffer = wasm.memory.buffer;
      const view = new Int32Array(buffer, counts, countsLength);
      view.fill(0);
      scratch = { pixels, levels, q: new Uint16Array(pixels), counts: view, homogeneityWeight, wasm: { image: new Float32Array(buffer, img, pixels), img, q, counts } };
    } else scratch = { pixels, levels, q: new Uint16Array(pixels), counts: new Int32Array(countsLength), homogeneityWeight, wasm: null };
  }
  return scratch;
}

/**
 * The four GLCM properties of a batch of `height x width` images, each the mean over the
 * four angles (`batch x 4`: energy, contrast, homogeneity, correlation), as scikit-image's
 * symmetric, normalised `graycomatrix` and `graycoprops`.
 *
 * The symmetric matrix S = C + C^T is visited once over i <= j. Its sums of i, i^2 and ij
 * are integers, exact in double, so the correlation comes out exact too. The pixel loops run
 * in WebAssembly where it is available (glcm_wasm.ts; `useWasm` false forces JavaScript's: the
 * same counts).
 */
export function glcmFeaturesImpl(images: Float32Array, batch: number, height: number, width: number, levels: number, useWasm = true): Float64Array {
  const out = new Float64Array(batch * 4);
  const pixels = height * width;
  const ll = levels * levels;
  const { q, counts, homogeneityWeight, wasm: w } = scratchFor(pixels, levels);
  const wasm = w && useWasm ? glcmWasm() : null;
  for (let k = 0; k < batch; k++) {
    if (wasm && w) {
      w.image.set(images.subarray(k * pixels, (k + 1) * pixels));
      wasm.quantise(w.img, pixels, levels, levels - 1, w.q);
      for (let a = 0; a < GLCM_OFFSETS.length; a++) {
        const [dr, dc] = GLCM_OFFSETS[a]!;
        const { rows, c0, c1, step } = pairRange(height, width, dr, dc);
        wasm.countPairs(w.q, width, rows, c0, c1, step, levels, w.counts + a * ll * 4);
      }
    } else {
      quantise(images, k * pixels, pixels, levels, q);
      countPairs(q, height, width, levels, counts);
    }
    let energy = 0;
    let contrast = 0;
    let homogeneity = 0;
    let correlation = 0;
    for (let a = 0; a < GLCM_OFFSETS.length; a++) {
      const base = a * ll;
      let total = 0; // sum of S
      let squares = 0; // sum of S^2
      let sumD2 = 0;
      let sumW = 0;
      let sumI = 0; // sum of i S_ij, equal to the sum of j S_ij
      let sumII = 0;
      let sumIJ = 0;
      for (let i = 0; i < levels; i++) {
        const diagonal = 2 * counts[base + i * levels + i]!;
        total += diagonal;
        squares += diagonal * diagonal;
        sumW += diagonal;
        sumI += diagonal * i;
        sumII += diagonal * i * i;
        sumIJ += diagonal * i * i;
        for (let j = i + 1; j < levels; j++) {
          const s = counts[base + i * levels + j]! + counts[base + j * levels + i]!;
          if (s === 0) continue;
          const d = j - i;
          // S_ij and S_ji both hold s
          total += 2 * s;
          squares += 2 * s * s;
          sumD2 += 2 * s * d * d;
          sumW += 2 * s * homogeneityWeight[d]!;
          sumI += s * (i + j);
          sumII += s * (i * i + j * j);
          sumIJ += 2 * s * i * j;
        }
      }
      if (total === 0) {
        correlation += 1; // an empty matrix: energy, contrast, homogeneity 0, correlation 1
        continue;
      }
      energy += Math.sqrt(squares) / total;
      contrast += sumD2 / total;
      homogeneity += sumW / total;
      // var * total^2 = total * sum(i^2 S) - (sum(i S))^2: exact integers for all but huge images
      const variance = total * sumII - sumI * sumI;
      const covariance = total * sumIJ - sumI * sumI;
      correlation += variance <= 0 ? 1 : covariance / variance;
    }
    counts.fill(0);
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
  const counts = new Int32Array(GLCM_OFFSETS.length * size);
  for (let k = 0; k < batch; k++) {
    quantise(images, k * pixels, pixels, levels, q);
    countPairs(q, height, width, levels, counts);
    for (let a = 0; a < GLCM_OFFSETS.length; a++) {
      const { rows, c0, c1 } = pairRange(height, width, GLCM_OFFSETS[a]![0], GLCM_OFFSETS[a]![1]);
      const total = 2 * rows * Math.max(0, c1 - c0);
      if (total === 0) continue;
      const base = a * size;
      const o = (k * GLCM_OFFSETS.length + a) * size;
      for (let i = 0; i < levels; i++) {
        for (let j = 0; j < levels; j++) out[o + i * levels + j] = (counts[base + i * levels + j]! + counts[base + j * levels + i]!) / total;
      }
    }
    counts.fill(0);
  }
  return out;
}

/** C's round (half away from zero), as scikit-image's `_glcm_loop` rounds its offsets. */
const roundHalfAway = (x: number): number => Math.sign(x) * Math.round(Math.abs(x));

/**
 * Pixel offsets (rows, columns) of distance `d` at 0, 45, 90 and 135 degrees, as
 * `graycomatrix` makes them: `round(sin(a) d)`, `round(cos(a) d)`. At 45 degrees and
 * distance 3 that is (2, 2), not (3, 3).
 */
export function glcmOffsets(d: number): [number, number][] {
  return [0, Math.PI / 4, Math.PI / 2, (3 * Math.PI) / 4].map((a) => [roundHalfAway(Math.sin(a) * d), roundHalfAway(Math.cos(a) * d)]);
}

/** Number of values of glcmAnglesImpl per image: six properties x distances x four angles. */
export const glcmAnglesLength = (distances: readonly number[]): number => 6 * distances.length * 4;

/**
 * The six properties of `graycoprops` (contrast, dissimilarity, homogeneity, ASM, energy,
 * correlation) of every symmetric, normalised co-occurrence matrix, one per distance and
 * angle, not averaged (docs/features.md section 7): `batch x 6 x distances x 4`, property
 * first, then distance (in the given order), then angle. Sums over the integer counts, in
 * double, as glcmFeaturesImpl.
 */
export function glcmAnglesImpl(images: Float32Array, batch: number, height: number, width: number, levels: number, distances: readonly number[]): Float64Array {
  const D = distances.length;
  const per = glcmAnglesLength(distances);
  const out = new Float64Array(batch * per);
  const pixels = height * width;
  const ll = levels * levels;
  const q = new Uint16Array(pixels);
  const counts = new Int32Array(ll);
  const offsets = distances.map(glcmOffsets);
  for (let k = 0; k < batch; k++) {
    quantise(images, k * pixels, pixels, levels, q);
    for (let di = 0; di < D; di++) {
      for (let a = 0; a < 4; a++) {
        const [dr, dc] = offsets[di]![a]!;
        const { rows, c0, c1, step } = pairRange(height, width, dr, dc);
        // dr >= 0 always; rows start at 0
        counts.fill(0);
        for (let r = 0; r < rows; r++) {
          for (let p = r * width + c0, end = r * width + c1; p < end; p++) counts[q[p]! * levels + q[p + step]!]!++;
        }
        let total = 0;
        let squares = 0;
        let sumD2 = 0;
        let sumD = 0;
        let sumW = 0;
        let sumI = 0;
        let sumII = 0;
        let sumIJ = 0;
        for (let i = 0; i < levels; i++) {
          for (let j = 0; j < levels; j++) {
            const s = counts[i * levels + j]! + counts[j * levels + i]!;
            if (s === 0) continue;
            const d = i - j;
            total += s;
            squares += s * s;
            sumD2 += s * d * d;
            sumD += s * Math.abs(d);
            sumW += s / (1 + d * d);
            sumI += s * i;
            sumII += s * i * i;
            sumIJ += s * i * j;
          }
        }
        const at = (prop: number) => k * per + (prop * D + di) * 4 + a;
        if (total === 0) {
          out[at(5)] = 1; // no pairs: every property 0, correlation 1
          continue;
        }
        out[at(0)] = sumD2 / total;
        out[at(1)] = sumD / total;
        out[at(2)] = sumW / total;
        out[at(3)] = squares / (total * total);
        out[at(4)] = Math.sqrt(squares) / total;
        const variance = total * sumII - sumI * sumI;
        const covariance = total * sumIJ - sumI * sumI;
        out[at(5)] = variance <= 0 ? 1 : covariance / variance;
      }
    }
  }
  return out;
}
