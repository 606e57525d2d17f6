import { engine, reshape, type NamedAttrMap, type Tensor, type Tensor2D, type Tensor3D, type Tensor4D } from '@tensorflow/tfjs-core';
import { MedclassError } from '../../errors.ts';
import { GLCM, GLCM_FEATURES, HOG, type GlcmAttrs, type HogAttrs } from './names.ts';

function asBatch(x: Tensor, op: string): Tensor3D {
  if (x.dtype !== 'float32') throw new MedclassError('invalidSpec', `${op}: images must be float32, got ${x.dtype}`);
  if (x.rank === 2) return reshape(x, [1, x.shape[0]!, x.shape[1]!]);
  if (x.rank !== 3) throw new MedclassError('invalidSpec', `${op}: images must be [batch, height, width], got rank ${x.rank}`);
  return x as Tensor3D;
}

function run<T extends Tensor>(kernel: string, x: Tensor, op: string, attrs: object): T {
  const batch = asBatch(x, op);
  const out = engine().runKernel(kernel, { x: batch }, attrs as unknown as NamedAttrMap) as T;
  if (batch !== x) batch.dispose();
  return out;
}

/** HOG of each image of a `[batch, height, width]` batch of grey images: `[batch, hogLength]`. */
export const hog = (images: Tensor, attrs: HogAttrs): Tensor2D => run(HOG, images, 'hog', attrs);

/** GLCM energy, contrast, homogeneity and correlation of each image, averaged over angles: `[batch, 4]`. */
export const glcmFeatures = (images: Tensor, attrs: GlcmAttrs): Tensor2D => run(GLCM_FEATURES, images, 'glcmFeatures', attrs);

/** The symmetric, normalised co-occurrence matrices: `[batch, 4 angles, levels, levels]`. */
export const glcm = (images: Tensor, attrs: GlcmAttrs): Tensor4D => run(GLCM, images, 'glcm', attrs);
