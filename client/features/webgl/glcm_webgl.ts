/**
 * GLCM (docs/features.md section 3) on tfjs-backend-webgl, built the way that backend builds its
 * own kernels: GPGPUProgram classes whose `userCode` comes from the pure source builders
 * below, run by `MathBackendWebGL.runWebGLProgram`.
 *
 * A fragment shader cannot scatter, and one that loops over every pixel for every
 * `(i, j)` texel costs `levels^2 x pixels` (far too slow at 256 levels), so the
 * co-occurrences are counted by sorting:
 * 1. pair codes `[batch, 4, n]`: for each angle and pixel, `q(r, c) * levels + q(r + dr,
 *    c + dc)`, or a sentinel (`levels^2`) where the neighbour is outside the image and for
 *    the padding up to `n`, the next power of two of the pixel count;
 * 2. a merge sort of each row of codes, one program run per pass (`log2 n` passes), each
 *    output texel finding its value by a binary search along the merge path;
 * 3. lower bounds `[batch, 4, levels^2 + 1]`: the position of the first code >= c, one
 *    binary search per texel;
 * 4. the symmetric, normalised matrices `[batch, 4, levels, levels]`: each texel counts its
 *    pairs `(i, j)` and `(j, i)` as differences of lower bounds (exact integers in float32)
 *    and divides by the angle's pair count (an empty matrix stays all zeros).
 * The properties follow on the GPU too:
 * 5. row sums `[batch, 4, levels, 5]`: `sum_j P^2`, `sum_j P (i - j)^2`,
 *    `sum_j P / (1 + (i - j)^2)`, `sum_j P` and `sum_j j P`;
 * 6. `[batch, 4]`: energy `sqrt(sum P^2)`, contrast, homogeneity and correlation (1 when a
 *    sigma is below 1e-15, which covers the flat and the empty matrix), each the mean over
 *    the four angles.
 *
 * Batches too large for one texture go through in chunks, stacked at the end.
 *
 * Everything is float32 (the GPU tolerance of docs/features.md section 5 allows for it). The
 * shaders keep to GLSL ES 1.00 syntax (constant loop bounds with `break`, no integer `%`,
 * `min` or `max`), but their indices need the 32-bit integers of WebGL 2, which is all
 * client/features/backend.ts uses. Image sizes, pair counts and batch offsets reach them as
 * uniforms (tfjs's shape uniforms and our own), never in their source, so one compiled program
 * serves every image size (see hog_webgl.ts). The merge and lower-bound passes are the
 * exception: tfjs 4.22's shape-uniform samplers misread their `[1, 4, n]` inputs from
 * n = 16384 on (128x128 images: wrong matrices), so tfjs compiles those two once per power of
 * two n, from a source that does not change with it.
 */
import type { GPGPUProgram, MathBackendWebGL } from '@tensorflow/tfjs-backend-webgl';
import { env, type KernelConfig, type KernelFunc, type NamedAttrMap, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { GLCM_OFFSETS } from '../../../shared/features/kernels/glcm_impl.ts';
import { GLCM, GLCM_FEATURES, type GlcmAttrs } from '../../../shared/features/kernels/names.ts';

const ANGLES = GLCM_OFFSETS.length;
/** Row sums per matrix row: sum P^2, sum P (i-j)^2, sum P / (1 + (i-j)^2), sum P, sum j P. */
const ROW_STATS = 5;

/** ceil(log2(n)) for n >= 1. */
export function log2Ceil(n: number): number {
  let k = 0;
  while (2 ** k < n) k++;
  return k;
}

/** Pairs counted per angle (each counted once; the symmetric matrix sums to twice this). */
export function pairCounts(height: number, width: number): number[] {
  return GLCM_OFFSETS.map(([dr, dc]) => Math.max(0, height - Math.abs(dr)) * Math.max(0, width - Math.abs(dc)));
}

/** A GLSL `if` chain setting `dr` and `dc` to the offsets of angle `a`. */
function offsetChain(): string {
  return GLCM_OFFSETS.map(([dr, dc], a) => `if (a == ${a}) { dr = ${dr}; dc = ${dc}; }`).join(' else ');
}

/**
 * The most steps of a binary search over a power of two of texels: the loops run to this
 * constant bound and stop early (a bound of the uniform length would not be constant).
 */
const SEARCH_STEPS = 32;

/**
 * Pair codes of images `batchOffset + k` of `x` (`[batch, height, width]`; `batchOffset` a
 * uniform): output `[chunk, 4, n]`. The code of pixel p
 * at angle a is `q(p) * levels + q(p + offset(a))` with `q = min(levels - 1, floor(v *
 * levels))`; `levels^2` (larger than every code) where the neighbour is outside the image
 * and at p >= height * width.
 */
export function glcmCodesSource(levels: number): string {
  const sentinel = (levels * levels).toFixed(1);
  return `
  float quantise(float v) {
    return min(${(levels - 1).toFixed(1)}, floor(v * ${levels.toFixed(1)}));
  }

  void main() {
    ivec3 coords = getOutputCoords();
    int k = coords.x;
    int a = coords.y;
    int p = coords.z;
    if (p >= height * width) {
      setOutput(${sentinel});
      return;
    }
    int r = p / width;
    int c = p - r * width;
    int dr = 0;
    int dc = 0;
    ${offsetChain()}
    int r2 = r + dr;
    int c2 = c + dc;
    if (r2 < 0 || r2 >= height || c2 < 0 || c2 >= width) {
      setOutput(${sentinel});
      return;
    }
    int image = k + batchOffset;
    setOutput(quantise(getX(image, r, c)) * ${levels.toFixed(1)} + quantise(getX(image, r2, c2)));
  }`;
}

/**
 * One merge-sort pass over `codes` (`[batch, 4, n]`, sorted in runs of `runLength`, a
 * uniform): output the same shape sorted in runs of `2 runLength`. Output position t of a
 * merged pair of runs A and B holds the t-th smallest of A and B: the number i of A's
 * elements among the first t is found by a binary search along the merge path
 * (`A[i] > B[t - 1 - i]` is false below i and true from it on).
 */
export function glcmMergeSource(): string {
  return `
  void main() {
    ivec3 coords = getOutputCoords();
    int k = coords.x;
    int a = coords.y;
    int run = runLength;
    int start = (coords.z / (2 * run)) * (2 * run);
    int t = coords.z - start;
    int baseB = start + run;
    int lo = t > run ? t - run : 0;
    int hi = t < run ? t : run;
    for (int it = 0; it < ${SEARCH_STEPS}; it++) {
      if (lo >= hi) break;
      int mid = (lo + hi) / 2;
      if (getCodes(k, a, start + mid) <= getCodes(k, a, baseB + t - 1 - mid)) lo = mid + 1;
      else hi = mid;
    }
    int j = t - lo;
    if (lo >= run) {
      setOutput(getCodes(k, a, baseB + j));
    } else if (j >= run) {
      setOutput(getCodes(k, a, start + lo));
    } else {
      setOutput(min(getCodes(k, a, start + lo), getCodes(k, a, baseB + j)));
    }
  }`;
}

/**
 * Lower bounds in the sorted `sorted` (`[batch, 4, n]`): output `[batch, 4, levels^2 + 1]`,
 * texel c the number of codes below c.
 */
export function glcmLowerBoundSource(): string {
  return `
  void main() {
    ivec3 coords = getOutputCoords();
    int k = coords.x;
    int a = coords.y;
    float code = float(coords.z);
    int lo = 0;
    int hi = codeCount;
    for (int it = 0; it < ${SEARCH_STEPS}; it++) {
      if (lo >= hi) break;
      int mid = (lo + hi) / 2;
      if (getSorted(k, a, mid) < code) lo = mid + 1;
      else hi = mid;
    }
    setOutput(float(lo));
  }`;
}

/**
 * The symmetric, normalised matrices from the lower bounds `bounds`
 * (`[batch, 4, levels^2 + 1]`): output `[batch, 4, levels, levels]`,
 * `P[i][j] = (C[i][j] + C[j][i]) / (2 pairs)`, all zeros where the angle has no pairs.
 */
export function glcmMatrixSource(levels: number): string {
  return `
  void main() {
    ivec4 coords = getOutputCoords();
    int k = coords.x;
    int a = coords.y;
    int ij = coords.z * ${levels} + coords.w;
    int ji = coords.w * ${levels} + coords.z;
    float count = getBounds(k, a, ij + 1) - getBounds(k, a, ij) + getBounds(k, a, ji + 1) - getBounds(k, a, ji);
    float total = 2.0 * pairs[a];
    setOutput(total > 0.0 ? count / total : 0.0);
  }`;
}

/** Row sums of `glcm` (`[batch, 4, levels, levels]`): output `[batch, 4, levels, 5]`. */
export function glcmRowStatsSource(levels: number): string {
  return `
  void main() {
    ivec4 coords = getOutputCoords();
    int k = coords.x;
    int a = coords.y;
    float i = float(coords.z);
    int s = coords.w;
    float sum = 0.0;
    for (int jj = 0; jj < ${levels}; jj++) {
      float p = getGlcm(k, a, coords.z, jj);
      float j = float(jj);
      float d2 = (i - j) * (i - j);
      float w = s == 0 ? p : (s == 1 ? d2 : (s == 2 ? 1.0 / (1.0 + d2) : (s == 3 ? 1.0 : j)));
      sum += p * w;
    }
    setOutput(sum);
  }`;
}

/**
 * The four properties from the row sums `rows` (`[batch, 4, levels, 5]`), each the mean
 * over the angles: output `[batch, 4]` (energy, contrast, homogeneity, correlation).
 * Correlation: `mu = sum i p_i`, `var = sum p_i (i - mu)^2`, `cov = sum_i (i - mu) (sum_j j
 * P_ij - mu p_i)` (the matrix is symmetric, so both marginals are p and both sigmas are
 * sqrt(var)); 1 where sigma < 1e-15, that is var < 1e-30.
 */
export function glcmPropertiesSource(levels: number): string {
  return `
  void main() {
    ivec2 coords = getOutputCoords();
    int k = coords.x;
    int prop = coords.y;
    float acc = 0.0;
    for (int a = 0; a < ${ANGLES}; a++) {
      if (prop == 3) {
        float mu = 0.0;
        for (int i = 0; i < ${levels}; i++) mu += float(i) * getRows(k, a, i, 3);
        float variance = 0.0;
        float covariance = 0.0;
        for (int i = 0; i < ${levels}; i++) {
          float p = getRows(k, a, i, 3);
          float d = float(i) - mu;
          variance += p * d * d;
          covariance += d * (getRows(k, a, i, 4) - mu * p);
        }
        acc += variance < 1e-30 ? 1.0 : covariance / variance;
      } else {
        float sum = 0.0;
        for (int i = 0; i < ${levels}; i++) sum += getRows(k, a, i, prop);
        acc += prop == 0 ? sqrt(sum) : sum;
      }
    }
    setOutput(acc / ${ANGLES.toFixed(1)});
  }`;
}

/** `a` (`[batchA, m]`) over `b` (`[batchB, m]`): output `[batchA + batchB, m]`. */
export function batchConcatSource(): string {
  return `
  void main() {
    ivec2 coords = getOutputCoords();
    if (coords.x < batchA) setOutput(getA(coords.x, coords.y));
    else setOutput(getB(coords.x - batchA, coords.y));
  }`;
}

export class GlcmCodesProgram implements GPGPUProgram {
  variableNames = ['x'];
  outputShape: number[];
  userCode: string;
  enableShapeUniforms = true;
  customUniforms = [
    { name: 'batchOffset', type: 'int' as const },
    { name: 'height', type: 'int' as const },
    { name: 'width', type: 'int' as const },
  ];

  constructor(batch: number, levels: number, n: number) {
    this.outputShape = [batch, ANGLES, n];
    this.userCode = glcmCodesSource(levels);
  }
}

export class GlcmMergeProgram implements GPGPUProgram {
  variableNames = ['codes'];
  outputShape: number[];
  userCode: string;
  customUniforms = [{ name: 'runLength', type: 'int' as const }];

  constructor(batch: number, n: number) {
    this.outputShape = [batch, ANGLES, n];
    this.userCode = glcmMergeSource();
  }
}

export class GlcmLowerBoundProgram implements GPGPUProgram {
  variableNames = ['sorted'];
  outputShape: number[];
  userCode: string;
  customUniforms = [{ name: 'codeCount', type: 'int' as const }];

  constructor(batch: number, levels: number) {
    this.outputShape = [batch, ANGLES, levels * levels + 1];
    this.userCode = glcmLowerBoundSource();
  }
}

export class GlcmMatrixProgram implements GPGPUProgram {
  variableNames = ['bounds'];
  outputShape: number[];
  userCode: string;
  enableShapeUniforms = true;
  customUniforms = [{ name: 'pairs', type: 'vec4' as const }];

  constructor(batch: number, levels: number) {
    this.outputShape = [batch, ANGLES, levels, levels];
    this.userCode = glcmMatrixSource(levels);
  }
}

export class GlcmRowStatsProgram implements GPGPUProgram {
  variableNames = ['glcm'];
  outputShape: number[];
  userCode: string;
  enableShapeUniforms = true;

  constructor(batch: number, levels: number) {
    this.outputShape = [batch, ANGLES, levels, ROW_STATS];
    this.userCode = glcmRowStatsSource(levels);
  }
}

export class GlcmPropertiesProgram implements GPGPUProgram {
  variableNames = ['rows'];
  outputShape: number[];
  userCode: string;
  enableShapeUniforms = true;

  constructor(batch: number, levels: number) {
    this.outputShape = [batch, 4];
    this.userCode = glcmPropertiesSource(levels);
  }
}

export class BatchConcatProgram implements GPGPUProgram {
  variableNames = ['a', 'b'];
  outputShape: number[];
  userCode: string;
  enableShapeUniforms = true;
  customUniforms = [{ name: 'batchA', type: 'int' as const }];

  constructor(batchA: number, batchB: number, m: number) {
    this.outputShape = [batchA + batchB, m];
    this.userCode = batchConcatSource();
  }
}

/**
 * How many images one pass of the pipeline takes at a time, so that no intermediate (pair
 * codes, lower bounds, matrices: `4 x max(n, levels^2 + 1)` values an image) exceeds
 * `maxTexels`.
 */
export function glcmChunkSize(batch: number, height: number, width: number, levels: number, maxTexels: number): number {
  const perImage = ANGLES * Math.max(2 ** log2Ceil(height * width), levels * levels + 1);
  return Math.max(1, Math.min(batch, Math.floor(maxTexels / perImage)));
}

/**
 * The most values one intermediate texture may hold; 0 (the default) takes a quarter of
 * what WEBGL_MAX_TEXTURE_SIZE allows. Settable so that tests can exercise the chunking.
 */
export const glcmWebglLimits = { maxTexels: 0 };

function maxTexels(): number {
  if (glcmWebglLimits.maxTexels > 0) return glcmWebglLimits.maxTexels;
  const side = env().getNumber('WEBGL_MAX_TEXTURE_SIZE');
  return (side * side) / 4;
}

type KernelArgs = { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap };

/** Runs `program` on `inputs` and disposes the inputs listed in `consumed`, whatever happens. */
function step(backend: MathBackendWebGL, program: GPGPUProgram, inputs: TensorInfo[], consumed: TensorInfo[], uniforms?: number[][]): TensorInfo {
  try {
    return backend.runWebGLProgram(program, inputs, 'float32', uniforms);
  } finally {
    for (const t of consumed) backend.disposeIntermediateTensorInfo(t);
  }
}

/** The symmetric, normalised co-occurrence matrices of images `offset .. offset + chunk` of `x`. */
function glcmMatrices(backend: MathBackendWebGL, x: TensorInfo, offset: number, chunk: number, levels: number): TensorInfo {
  const [, height, width] = x.shape as [number, number, number];
  const n = 2 ** log2Ceil(height * width);
  let codes = step(backend, new GlcmCodesProgram(chunk, levels, n), [x], [], [[offset], [height], [width]]);
  const merge = new GlcmMergeProgram(chunk, n);
  for (let run = 1; run < n; run *= 2) codes = step(backend, merge, [codes], [codes], [[run]]);
  const bounds = step(backend, new GlcmLowerBoundProgram(chunk, levels), [codes], [codes], [[n]]);
  return step(backend, new GlcmMatrixProgram(chunk, levels), [bounds], [bounds], [pairCounts(height, width)]);
}

/** The same data seen with another (unpacked, so reshape-free) shape, as tfjs's own reshape does. */
const view = (t: TensorInfo, shape: number[]): TensorInfo => ({ dataId: t.dataId, dtype: t.dtype, shape });

/**
 * Runs `pipeline` over the batch in chunks small enough for the GPU's textures and stacks
 * the results along the batch axis (`shape` the result's shape for one image).
 */
function inChunks(backend: MathBackendWebGL, x: TensorInfo, levels: number, shape: number[], pipeline: (offset: number, chunk: number) => TensorInfo): TensorInfo {
  const [batch, height, width] = x.shape as [number, number, number];
  const chunk = glcmChunkSize(batch, height, width, levels, maxTexels());
  const m = shape.reduce((a, b) => a * b, 1);
  let done = 0;
  let out: TensorInfo | null = null;
  try {
    while (done < batch) {
      const size = Math.min(chunk, batch - done);
      const piece = pipeline(done, size);
      if (out === null) out = piece;
      else {
        const previous = out;
        out = null; // step disposes both, whatever happens
        out = step(backend, new BatchConcatProgram(done, size, m), [view(previous, [done, m]), view(piece, [size, m])], [previous, piece], [[done]]);
      }
      done += size;
    }
  } catch (e) {
    if (out) backend.disposeIntermediateTensorInfo(out);
    throw e;
  }
  return view(out!, [batch, ...shape]);
}

function inputs(args: KernelArgs): { x: TensorInfo; backend: MathBackendWebGL; levels: number; empty: boolean } {
  const x = args.inputs['x'] as TensorInfo;
  const [batch, height, width] = x.shape as [number, number, number];
  const levels = (args.attrs as unknown as GlcmAttrs).levels;
  return { x, backend: args.backend as MathBackendWebGL, levels, empty: batch * height * width === 0 };
}

/** The GLCM kernel on webgl: `x` `[batch, height, width]` to `[batch, 4, levels, levels]`. */
export function glcmWebgl(args: KernelArgs): TensorInfo {
  const { x, backend, levels, empty } = inputs(args);
  const shape = [ANGLES, levels, levels];
  if (empty) return backend.makeTensorInfo([x.shape[0]!, ...shape], 'float32', new Float32Array(x.shape[0]! * ANGLES * levels * levels));
  return inChunks(backend, x, levels, shape, (offset, chunk) => glcmMatrices(backend, x, offset, chunk, levels));
}

/** The GLCM features kernel on webgl: `x` `[batch, height, width]` to `[batch, 4]`. */
export function glcmFeaturesWebgl(args: KernelArgs): TensorInfo {
  const { x, backend, levels, empty } = inputs(args);
  const batch = x.shape[0]!;
  if (empty) {
    const values = new Float32Array(batch * 4);
    for (let k = 0; k < batch; k++) values[k * 4 + 3] = 1; // no pairs: correlation 1, the rest 0
    return backend.makeTensorInfo([batch, 4], 'float32', values);
  }
  return inChunks(backend, x, levels, [4], (offset, chunk) => {
    const glcm = glcmMatrices(backend, x, offset, chunk, levels);
    const rows = step(backend, new GlcmRowStatsProgram(chunk, levels), [glcm], [glcm]);
    return step(backend, new GlcmPropertiesProgram(chunk, levels), [rows], [rows]);
  });
}

export const glcmWebglConfig: KernelConfig = {
  kernelName: GLCM,
  backendName: 'webgl',
  kernelFunc: glcmWebgl as unknown as KernelFunc,
};

export const glcmFeaturesWebglConfig: KernelConfig = {
  kernelName: GLCM_FEATURES,
  backendName: 'webgl',
  kernelFunc: glcmFeaturesWebgl as unknown as KernelFunc,
};
