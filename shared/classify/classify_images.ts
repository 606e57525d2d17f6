import { predict, shownScores } from './classifier.ts';
import { matrix } from './linalg.ts';
import type { LoadedModel } from './model.ts';
import { MedclassError, errorMessage } from '../errors.ts';
import { extractBatch, featureVector, prepareImage, type PreparedImage } from '../features/extract.ts';
import { wantsColour } from '../features/spec.ts';
import { decodeImageAsync, type DecodeLimits } from '../image/index.ts';

/** An image as the channel carries it, after decryption. */
export type WireImage =
  | { mode: 'original'; data: Uint8Array }
  /** `pixels`: the grey plane, then the R, G and B planes when `channels` is 3 (absent: 1). */
  | { mode: 'reduced'; width: number; height: number; channels?: 1 | 3; pixels: Float32Array }
  | { mode: 'features'; vector: Float64Array };

export type ImageOutcome =
  | { ok: true; label: string; scores: Record<string, number>; timings: { decodeMs: number; extractMs: number; classifyMs: number } }
  | { ok: false; code: string; message: string };

/** Features beyond this are no image's: the HOG is at most 1, GLCM contrast at most 255^2. */
const FEATURE_BOUND = 1e12;

/** Every value finite and below FEATURE_BOUND (a plain loop: this runs over every feature of every request). */
function sensibleFeatures(v: Float64Array): boolean {
  for (let i = 0; i < v.length; i++) if (!(Math.abs(v[i]!) < FEATURE_BOUND)) return false;
  return true;
}

/** Every intensity in [0, 1] (NaN is not). */
function greyIntensities(p: Float32Array): boolean {
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    if (!(v >= 0 && v <= 1)) return false;
  }
  return true;
}

/** Per-class scores to show (shownScores: calibrated probabilities where the model has them, else its ranking scores; the label is the largest). */
function scoresOf(labels: string[], values: Float64Array, row: number): Record<string, number> {
  const k = labels.length;
  return Object.fromEntries(labels.map((l, c) => [l, values[row * k + c]!]));
}

/**
 * Classifies a request's images with one model, all in memory (the server's workers, and the
 * app on the device with a downloaded model, run this same code): decode (original), the
 * exact extraction (original, reduced), the classifier. Each image gets its label or why
 * it could not be used; one bad image does not spoil the others.
 */
export async function classifyImages(model: LoadedModel, images: readonly WireImage[], limits: DecodeLimits): Promise<ImageOutcome[]> {
  const out: ImageOutcome[] = new Array(images.length);
  const vectors: { i: number; vector: Float64Array; decodeMs: number; extractMs: number }[] = [];
  const toExtract: { i: number; image: PreparedImage; decodeMs: number }[] = [];
  const expected = model.imageSize ?? { width: model.spec.size, height: model.spec.size };
  for (const [i, image] of images.entries()) {
    try {
      if (image.mode === 'features') {
        if (image.vector.length !== model.featureLength) {
          throw new MedclassError('invalidSpec', `this service takes ${model.featureLength} features, ${image.vector.length} were sent`);
        }
        if (!sensibleFeatures(image.vector)) {
          throw new MedclassError('invalidSpec', 'a feature value is not a finite number of sensible size');
        }
        vectors.push({ i, vector: image.vector, decodeMs: 0, extractMs: 0 });
      } else if (image.mode === 'reduced') {
        if (image.width !== expected.width || image.height !== expected.height) {
          throw new MedclassError('invalidSpec', `this service takes ${expected.width}x${expected.height} reduced images, ${image.width}x${image.height} was sent`);
        }
        // Intensities are in [0, 1]; anything else is not an image this service was trained on.
        if (!greyIntensities(image.pixels)) {
          throw new MedclassError('invalidSpec', 'reduced pixels must be intensities between 0 and 1');
        }
        const n = image.width * image.height;
        if (wantsColour(model.spec) && image.channels !== 3) {
          throw new MedclassError('notColour', "this service's colour features need the colour planes: send the reduced image with channels 3");
        }
        const planes = image.channels === 3 && wantsColour(model.spec) ? image.pixels.subarray(n, 4 * n) : undefined;
        toExtract.push({ i, image: { width: image.width, height: image.height, data: image.pixels.subarray(0, n), ...(planes ? { planes } : {}) }, decodeMs: 0 });
      } else {
        const t = performance.now();
        const prepared = prepareImage(await decodeImageAsync(image.data, limits), model.spec);
        if (model.imageSize && (prepared.width !== expected.width || prepared.height !== expected.height)) {
          throw new MedclassError('invalidSpec', `this service takes ${expected.width}x${expected.height} images, this one is ${prepared.width}x${prepared.height}`);
        }
        toExtract.push({ i, image: prepared, decodeMs: performance.now() - t });
      }
    } catch (e) {
      out[i] = { ok: false, code: e instanceof MedclassError ? e.code : 'badImage', message: errorMessage(e) };
    }
  }
  if (toExtract.length) {
    const t = performance.now();
    const values = await extractBatch(
      toExtract.map((x) => x.image),
      model.spec,
    );
    const each = (performance.now() - t) / toExtract.length;
    toExtract.forEach((x, k) => vectors.push({ i: x.i, vector: featureVector(values[k]!, model.spec, x.image.height, x.image.width), decodeMs: x.decodeMs, extractMs: each }));
  }
  if (vectors.length) {
    const t = performance.now();
    const X = matrix(vectors.length, model.featureLength);
    vectors.forEach((v, r) => X.data.set(v.vector, r * model.featureLength));
    const e = predict(model.predictor, X);
    const shown = shownScores(model.predictor, e);
    const each = (performance.now() - t) / vectors.length;
    vectors.forEach((v, r) => {
      const scores = scoresOf(model.labels, shown, r);
      if (!Object.values(scores).every(Number.isFinite)) {
        out[v.i] = { ok: false, code: 'invalidSpec', message: 'the model gives no finite score for this input' };
        return;
      }
      out[v.i] = {
        ok: true,
        label: model.labels[e.predicted[r]!]!,
        scores,
        timings: { decodeMs: v.decodeMs, extractMs: v.extractMs, classifyMs: each },
      };
    });
  }
  return out;
}
