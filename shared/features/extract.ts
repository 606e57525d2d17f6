import { MedclassError } from '../errors.ts';
import { colourPlanes, type GreyImage } from '../image/grey.ts';
import { GABOR, GLCM_ANGLES, GLCM_FEATURES, HISTOGRAM, HOG, LBP, MOMENTS } from './kernels/names.ts';
import { kernelRunner, type KernelSession } from './kernels/runner.ts';
import { resizeBilinear } from './resize.ts';
import {
  minimumSide,
  minimumSideHog2,
  minimumSideLbp,
  vectorLength,
  wantsColour,
  wantsGlcm,
  wantsHog,
  type FeatureName,
  type FeatureSpec,
} from './spec.ts';

/** The features of one image; which are present follows the spec. */
export interface FeatureValues {
  hog?: Float32Array;
  hogMean?: number;
  hogVariance?: number;
  glcmEnergy?: number;
  glcmContrast?: number;
  glcmHomogeneity?: number;
  glcmCorrelation?: number;
  hog2?: Float32Array;
  lbp?: Float64Array;
  glcmAngles?: Float64Array;
  intensityHistogram?: Float64Array;
  intensityMoments?: Float64Array;
  colourHistogram?: Float64Array;
  colourMoments?: Float64Array;
  gabor?: Float64Array;
  pixels?: Float64Array;
  colourPixels?: Float64Array;
}

/** An image at the size features are extracted from. */
export interface PreparedImage {
  width: number;
  height: number;
  /** Grey intensities, row-major. */
  data: Float32Array;
  /** The R, G and B planes at the same size, one after the other; only when the spec has colour features. */
  planes?: Float32Array;
}

const tooSmall = (what: string, width: number, height: number, min: number, why: string) =>
  new MedclassError('imageTooSmall', `image too small for ${what}: ${width}x${height} (width x height) to extract from, at least ${min}x${min} needed (${why})`);

/**
 * Refuses what the spec's features cannot be extracted from, in this order: one HOG block
 * (always), one block of the second HOG, the largest LBP circle, a colour image for the
 * colour features (docs/features.md section 1, step 3).
 */
export function checkExtractable(spec: FeatureSpec, width: number, height: number, colour: boolean): void {
  const min = minimumSide(spec);
  if (width < min || height < min) throw tooSmall('one HOG block', width, height, min, `pixelsPerCell ${spec.pixelsPerCell} x cellsPerBlock ${spec.cellsPerBlock}`);
  const min2 = minimumSideHog2(spec);
  if (spec.features.includes('hog2') && (width < min2 || height < min2)) {
    throw tooSmall('one HOG block at the second cell size', width, height, min2, `pixelsPerCell2 ${spec.pixelsPerCell2} x cellsPerBlock ${spec.cellsPerBlock}`);
  }
  const minLbp = minimumSideLbp(spec);
  if (spec.features.includes('lbp') && (width < minLbp || height < minLbp)) {
    throw tooSmall(`LBP at radius ${Math.max(...spec.lbp.map((c) => c.radius))}`, width, height, minLbp, '2 x radius + 1');
  }
  if (wantsColour(spec) && !colour) throw new MedclassError('notColour', 'colour features need a colour image (RGB or RGBA); this one is grey');
}

/** Resizes every plane of `planes` (each `width x height`) to `size x size`. */
function resizePlanes(planes: Float32Array, count: number, width: number, height: number, size: number): Float32Array {
  const n = width * height;
  const out = new Float32Array(count * size * size);
  for (let k = 0; k < count; k++) resizeBilinear({ width, height, data: planes.subarray(k * n, (k + 1) * n) }, size, out, k * size * size);
  return out;
}

/**
 * Resizes to the spec's size (or keeps the size at 0), the colour planes too when the spec
 * has colour features, and refuses what the features cannot be extracted from.
 */
export function prepareImage(image: GreyImage, spec: FeatureSpec): PreparedImage {
  const width = spec.size || image.width;
  const height = spec.size || image.height;
  checkExtractable(spec, width, height, image.colour !== undefined);
  // An identity resize gives back the same bits, so it is skipped.
  const identity = image.width === width && image.height === height;
  const data = identity ? image.data : resizeBilinear(image, spec.size);
  if (!wantsColour(spec)) return { width, height, data };
  const planes = colourPlanes(image)!;
  return { width, height, data, planes: identity ? planes : resizePlanes(planes, 3, image.width, image.height, spec.size) };
}

/** Row `k` of a `rows x length` result, as doubles; counts become fractions of `divide`. */
function row(all: Float32Array | Int32Array, k: number, length: number, divide = 1): Float64Array {
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = all[k * length + i]! / divide;
  return out;
}

/**
 * Features of a batch of prepared images of one size, through the HOG and GLCM ops on the
 * active tfjs backend. Means and variances of the HOG are taken in double.
 */
export async function extractBatch(images: readonly PreparedImage[], spec: FeatureSpec): Promise<FeatureValues[]> {
  if (images.length === 0) return [];
  const { width, height } = images[0]!;
  const pixels = width * height;
  const batch = takeBatchArray(images.length * pixels);
  const stacked = batch.subarray(0, images.length * pixels);
  images.forEach((img, k) => {
    if (img.width !== width || img.height !== height) throw new Error('extractBatch: images of one batch must share their size');
    stacked.set(img.data, k * pixels);
  });
  const x = kernelRunner().open(stacked, images.length, height, width);
  try {
    const results = await extractSevenFeatures(x, images.length, spec);
    await extractFamilies(x, images, spec, results);
    return results;
  } finally {
    x.dispose();
    if (batch.length <= SPARE_BATCH_MAX) spareBatch = batch;
  }
}

/** The largest batch array kept for the next batch (4 MiB): a thread keeps no more than that. */
const SPARE_BATCH_MAX = 1 << 20;

/**
 * The last batch's array, free again once its session is disposed (no kernel output is a
 * view of it): a fresh array of several hundred KiB for each of the command's chunks cost
 * its page faults again each time. A batch that starts while another is still running, or
 * a larger one, takes a new one.
 */
let spareBatch: Float32Array | undefined;

function takeBatchArray(length: number): Float32Array {
  const spare = spareBatch;
  if (!spare || spare.length < length) return new Float32Array(length);
  spareBatch = undefined;
  return spare;
}

/** The seven features of the paper, exactly as before the families came. */
async function extractSevenFeatures(x: KernelSession, count: number, spec: FeatureSpec): Promise<FeatureValues[]> {
  const results: FeatureValues[] = Array.from({ length: count }, () => ({}));
  if (wantsHog(spec)) {
    const all = (await x.run(HOG, { orientations: spec.orientations, pixelsPerCell: spec.pixelsPerCell, cellsPerBlock: spec.cellsPerBlock })) as Float32Array;
    const len = all.length / count;
    results.forEach((r, k) => {
      const v = all.subarray(k * len, (k + 1) * len);
      const { mean, variance } = meanVariance(v);
      if (spec.features.includes('hog')) r.hog = v;
      if (spec.features.includes('hogMean')) r.hogMean = mean;
      if (spec.features.includes('hogVariance')) r.hogVariance = variance;
    });
  }
  if (wantsGlcm(spec)) {
    const all = await x.run(GLCM_FEATURES, { levels: spec.levels });
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
}

/** The families added after the seven (docs/features.md sections 6 to 10), into `results`. */
async function extractFamilies(x: KernelSession, images: readonly PreparedImage[], spec: FeatureSpec, results: FeatureValues[]): Promise<void> {
  const n = images.length;
  const { width, height } = images[0]!;
  const pixels = width * height;
  const has = (f: FeatureName) => spec.features.includes(f);
  if (has('hog2')) {
    const all = (await x.run(HOG, { orientations: spec.orientations, pixelsPerCell: spec.pixelsPerCell2, cellsPerBlock: spec.cellsPerBlock })) as Float32Array;
    const len = all.length / n;
    results.forEach((r, k) => (r.hog2 = all.subarray(k * len, (k + 1) * len)));
  }
  if (has('lbp')) {
    const all = await x.run(LBP, { lbp: spec.lbp });
    const len = all.length / n;
    results.forEach((r, k) => (r.lbp = row(all, k, len, pixels)));
  }
  if (has('glcmAngles')) {
    const all = await x.run(GLCM_ANGLES, { levels: spec.levels, distances: spec.glcmDistances });
    const len = all.length / n;
    results.forEach((r, k) => (r.glcmAngles = row(all, k, len)));
  }
  const bins = spec.histogramBins;
  if (has('intensityHistogram')) {
    const all = await x.run(HISTOGRAM, { bins });
    results.forEach((r, k) => (r.intensityHistogram = row(all, k, bins, pixels)));
  }
  if (has('intensityMoments')) {
    const all = await x.run(MOMENTS, { bins });
    results.forEach((r, k) => (r.intensityMoments = row(all, k, 5)));
  }
  if (has('gabor')) {
    const all = await x.run(GABOR, { frequencies: spec.gaborFrequencies, orientations: spec.gaborOrientations });
    const len = all.length / n;
    results.forEach((r, k) => (r.gabor = row(all, k, len)));
  }
  if (has('pixels')) results.forEach((r, k) => (r.pixels = Float64Array.from(images[k]!.data)));
  if (has('colourPixels')) {
    images.forEach((img, k) => {
      if (!img.planes || img.planes.length !== 3 * pixels) throw new MedclassError('notColour', 'colour features need a colour image (RGB or RGBA); this one is grey');
      results[k]!.colourPixels = Float64Array.from(img.planes);
    });
  }
  if (has('colourHistogram') || has('colourMoments')) {
    const planes = new Float32Array(3 * n * pixels);
    images.forEach((img, k) => {
      if (!img.planes || img.planes.length !== 3 * pixels) throw new MedclassError('notColour', 'colour features need a colour image (RGB or RGBA); this one is grey');
      planes.set(img.planes, 3 * k * pixels);
    });
    const c = kernelRunner().open(planes, 3 * n, height, width);
    try {
      if (has('colourHistogram')) {
        const all = await c.run(HISTOGRAM, { bins });
        results.forEach((r, k) => (r.colourHistogram = row(all, k, 3 * bins, pixels)));
      }
      if (has('colourMoments')) {
        const all = await c.run(MOMENTS, { bins });
        results.forEach((r, k) => (r.colourMoments = row(all, k, 15)));
      }
    } finally {
      c.dispose();
    }
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
