import { tensor3d } from '@tensorflow/tfjs-core';
import { MedclassError } from '../errors.ts';
import type { GreyImage } from '../image/grey.ts';
import { glcmFeatures, hog } from './kernels/ops.ts';
import { resizeBilinear } from './resize.ts';
import { minimumSide, vectorLength, wantsGlcm, wantsHog, type FeatureSpec, type FeatureName } from './spec.ts';

/** The features of one image; which are present follows the spec. */
export interface FeatureValues {
  hog?: Float32Array;
  hogMean?: number;
  hogVariance?: number;
  glcmEnergy?: number;
  glcmContrast?: number;
  glcmHomogeneity?: number;
  glcmCorrelation?: number;
}

/** An image at the size features are extracted from. */
export type PreparedImage = GreyImage;

/** Resizes to the spec's size (or keeps the size at 0) and refuses what cannot hold one HOG block. */
export function prepareImage(image: GreyImage, spec: FeatureSpec): PreparedImage {
  const width = spec.size || image.width;
  const height = spec.size || image.height;
  const min = minimumSide(spec);
  if (width < min || height < min) {
    throw new MedclassError(
      'imageTooSmall',
      `image too small for one HOG block: ${width}x${height} (width x height) to extract from, at least ${min}x${min} needed ` +
        `(pixelsPerCell ${spec.pixelsPerCell} x cellsPerBlock ${spec.cellsPerBlock})`,
    );
  }
  // An identity resize gives back the same bits, so it is skipped.
  if (image.width === width && image.height === height) return image;
  return { width, height, data: resizeBilinear(image, spec.size) };
}

/**
 * Features of a batch of prepared images of one size, through the HOG and GLCM ops on the
 * active tfjs backend. Means and variances of the HOG are taken in double.
 */
export async function extractBatch(images: readonly PreparedImage[], spec: FeatureSpec): Promise<FeatureValues[]> {
  if (images.length === 0) return [];
  const { width, height } = images[0]!;
  const pixels = width * height;
  const stacked = new Float32Array(images.length * pixels);
  images.forEach((img, k) => {
    if (img.width !== width || img.height !== height) throw new Error('extractBatch: images of one batch must share their size');
    stacked.set(img.data, k * pixels);
  });
  const x = tensor3d(stacked, [images.length, height, width]);
  try {
    const results: FeatureValues[] = images.map(() => ({}));
    if (wantsHog(spec)) {
      const t = hog(x, spec);
      const all = (await t.data()) as Float32Array;
      t.dispose();
      const len = all.length / images.length;
      results.forEach((r, k) => {
        const v = all.subarray(k * len, (k + 1) * len);
        const { mean, variance } = meanVariance(v);
        if (spec.features.includes('hog')) r.hog = v;
        if (spec.features.includes('hogMean')) r.hogMean = mean;
        if (spec.features.includes('hogVariance')) r.hogVariance = variance;
      });
    }
    if (wantsGlcm(spec)) {
      const t = glcmFeatures(x, spec);
      const all = await t.data();
      t.dispose();
      results.forEach((r, k) => {
        const put = (name: FeatureName, i: number) => {
          if (spec.features.includes(name)) (r as Record<string, number>)[name] = all[k * 4 + i]!;
        };
        put('glcmEnergy', 0);
        put('glcmContrast', 1);
        put('glcmHomogeneity', 2);
        put('glcmCorrelation', 3);
      });
    }
    return results;
  } finally {
    x.dispose();
  }
}

/** Mean and population variance (divided by N), in double. */
export function meanVariance(v: ArrayLike<number>): { mean: number; variance: number } {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]!;
  const mean = sum / v.length;
  let sq = 0;
  for (let i = 0; i < v.length; i++) sq += (v[i]! - mean) ** 2;
  return { mean, variance: sq / v.length };
}

/** The outcome for one input image: its features, or why it could not be used. */
export type Extraction =
  | { ok: true; width: number; height: number; resizedWidth: number; resizedHeight: number; values: FeatureValues }
  | { ok: false; width?: number; height?: number; error: MedclassError };

/**
 * Features of any number of images of any sizes: each is prepared, those of one size go
 * through the ops as one batch, and an image that cannot be used gets its error instead.
 */
export async function extractFeatures(images: readonly GreyImage[], spec: FeatureSpec): Promise<Extraction[]> {
  const out: Extraction[] = new Array(images.length);
  const groups = new Map<string, { index: number[]; prepared: PreparedImage[] }>();
  images.forEach((image, index) => {
    try {
      const prepared = prepareImage(image, spec);
      const key = `${prepared.width}x${prepared.height}`;
      const group = groups.get(key) ?? { index: [], prepared: [] };
      group.index.push(index);
      group.prepared.push(prepared);
      groups.set(key, group);
    } catch (e) {
      if (!(e instanceof MedclassError)) throw e;
      out[index] = { ok: false, width: image.width, height: image.height, error: e };
    }
  });
  for (const { index, prepared } of groups.values()) {
    const values = await extractBatch(prepared, spec);
    index.forEach((i, k) => {
      const image = images[i]!;
      const p = prepared[k]!;
      out[i] = { ok: true, width: image.width, height: image.height, resizedWidth: p.width, resizedHeight: p.height, values: values[k]! };
    });
  }
  return out;
}

/** The feature vector in the fixed layout of docs/features.md section 4. */
export function featureVector(values: FeatureValues, spec: FeatureSpec, height: number, width: number): Float64Array {
  const out = new Float64Array(vectorLength(spec, height, width));
  let o = 0;
  for (const name of spec.features) {
    const v = values[name];
    if (v === undefined) throw new Error(`featureVector: ${name} missing`);
    if (typeof v === 'number') out[o++] = v;
    else {
      out.set(v, o);
      o += v.length;
    }
  }
  return out;
}
