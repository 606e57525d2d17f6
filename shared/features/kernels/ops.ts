import { engine, getKernel, reshape, tensor, type NamedAttrMap, type Tensor, type Tensor2D, type Tensor3D, type Tensor4D } from '@tensorflow/tfjs-core';
import { MedclassError } from '../../errors.ts';
import {
  GABOR,
  GLCM,
  GLCM_ANGLES,
  GLCM_FEATURES,
  HISTOGRAM,
  HOG,
  LBP,
  MOMENTS,
  type GaborAttrs,
  type GlcmAnglesAttrs,
  type GlcmAttrs,
  type HistogramAttrs,
  type HogAttrs,
  type LbpAttrs,
} from './names.ts';
import { CPU_ONLY_KERNELS } from './register_cpu.ts';

function asBatch(x: Tensor, op: string): Tensor3D {
  if (x.dtype !== 'float32') throw new MedclassError('invalidSpec', `${op}: images must be float32, got ${x.dtype}`);
  if (x.rank === 2) return reshape(x, [1, x.shape[0]!, x.shape[1]!]);
  if (x.rank !== 3) throw new MedclassError('invalidSpec', `${op}: images must be [batch, height, width], got rank ${x.rank}`);
  return x as Tensor3D;
}

/** Whether the active backend computes this kernel itself (else a CPU-only kernel runs on read-back images). */
export const runsOnActiveBackend = (kernel: string): boolean => getKernel(kernel, engine().backendName) !== undefined;

function run<T extends Tensor>(kernel: string, x: Tensor, op: string, attrs: object): T {
  const batch = asBatch(x, op);
  try {
    const cpuOnly = CPU_ONLY_KERNELS[kernel];
    if (cpuOnly && !runsOnActiveBackend(kernel)) {
      const [b, h, w] = batch.shape;
      const [shape, values] = cpuOnly(batch.dataSync() as Float32Array, b, h, w, attrs as never);
      return tensor(values, shape, values instanceof Int32Array ? 'int32' : 'float32') as T;
    }
    return engine().runKernel(kernel, { x: batch }, attrs as unknown as NamedAttrMap) as T;
  } finally {
    if (batch !== x) batch.dispose();
  }
}

/** Any of the kernels below by its name (names.ts), for a runner that holds names. */
export const runOp = (kernel: string, images: Tensor, attrs: object): Tensor => run(kernel, images, kernel, attrs);

/** HOG of each image of a `[batch, height, width]` batch of grey images: `[batch, hogLength]`. */
export const hog = (images: Tensor, attrs: HogAttrs): Tensor2D => run(HOG, images, 'hog', attrs);

/** GLCM energy, contrast, homogeneity and correlation of each image, averaged over angles: `[batch, 4]`. */
export const glcmFeatures = (images: Tensor, attrs: GlcmAttrs): Tensor2D => run(GLCM_FEATURES, images, 'glcmFeatures', attrs);

/** The symmetric, normalised co-occurrence matrices: `[batch, 4 angles, levels, levels]`. */
export const glcm = (images: Tensor, attrs: GlcmAttrs): Tensor4D => run(GLCM, images, 'glcm', attrs);

/** LBP code counts of each image, one histogram per config, concatenated: int32 `[batch, bins]`. */
export const lbpCounts = (images: Tensor, attrs: LbpAttrs): Tensor2D => run(LBP, images, 'lbpCounts', attrs);

/** The six GLCM properties per distance and angle: `[batch, 6 x distances x 4]`. */
export const glcmAngles = (images: Tensor, attrs: GlcmAnglesAttrs): Tensor2D => run(GLCM_ANGLES, images, 'glcmAngles', attrs);

/** Intensity counts in `bins` equal bins over [0, 1]: int32 `[batch, bins]`. */
export const histogramCounts = (images: Tensor, attrs: HistogramAttrs): Tensor2D => run(HISTOGRAM, images, 'histogramCounts', attrs);

/** Mean, variance, skewness, kurtosis and entropy (bits, of the `bins`-bin histogram): `[batch, 5]`. */
export const moments = (images: Tensor, attrs: HistogramAttrs): Tensor2D => run(MOMENTS, images, 'moments', attrs);

/** Gabor filter-bank energies (mean and variance of each filter's magnitude): `[batch, 2 x frequencies x orientations]`. */
export const gaborEnergies = (images: Tensor, attrs: GaborAttrs): Tensor2D => run(GABOR, images, 'gaborEnergies', attrs);
