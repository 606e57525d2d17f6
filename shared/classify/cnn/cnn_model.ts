import { getBackend, type Tensor } from '@tensorflow/tfjs-core';
import type { Evaluation } from '../evaluation.ts';
import type { Matrix } from '../linalg.ts';
import { paramTensors, type CnnArchitecture, type Params } from './network.ts';
import { evaluationOf, normalise, predictNormalised, predictNormalisedAsync, type EpochReport, type Normalisation } from './train_cnn.ts';

/** A trained network: what the model file keeps, and its tensors once used on a backend. */
export interface CnnModel {
  architecture: CnnArchitecture;
  normalisation: Normalisation;
  weights: Map<string, Float32Array>;
  /** Per epoch, for the report and the curves. */
  history: EpochReport[];
  bestEpoch: number;
}

/** Parameter tensors per model and backend, made on first use there (a tensor lives on one backend). */
const onBackend = new WeakMap<CnnModel, Map<string, Params>>();

function paramsFor(m: CnnModel): Params {
  const backend = getBackend();
  let byBackend = onBackend.get(m);
  if (!byBackend) onBackend.set(m, (byBackend = new Map()));
  let params = byBackend.get(backend);
  if (!params) byBackend.set(backend, (params = paramTensors(m.weights, m.architecture)));
  return params;
}

/** Frees a model's tensors on every backend (a classify worker dropping a model from its cache). */
export function releaseCnn(m: CnnModel): void {
  for (const params of onBackend.get(m)?.values() ?? []) for (const t of params.values()) (t as Tensor).dispose();
  onBackend.delete(m);
}

/**
 * The network's input from feature vectors: `pixels` is the image row-major, `colourPixels`
 * the R, G and B planes one after the other; the network takes NHWC.
 */
export function imagesFromVectors(X: Matrix, a: CnnArchitecture): Float32Array {
  const hw = a.inputSize * a.inputSize;
  const c = a.channels;
  if (X.cols !== hw * c) throw new Error(`the network takes ${hw * c} values per image, ${X.cols} were given`);
  const out = new Float32Array(X.rows * hw * c);
  for (let r = 0; r < X.rows; r++) {
    const row = r * X.cols;
    for (let ch = 0; ch < c; ch++) for (let i = 0; i < hw; i++) out[row + i * c + ch] = X.data[row + ch * hw + i]!;
  }
  return out;
}

/** Class probabilities of feature vectors (pixels), on the active tfjs backend. */
export function evaluateCnn(m: CnnModel, X: Matrix): Evaluation {
  const a = m.architecture;
  const x = normalise(imagesFromVectors(X, a), a.channels, m.normalisation);
  return evaluationOf(predictNormalised(a, paramsFor(m), x), a.classes);
}

/** evaluateCnn with the values read asynchronously (the same numbers; what WebGPU needs). */
export async function evaluateCnnAsync(m: CnnModel, X: Matrix): Promise<Evaluation> {
  const a = m.architecture;
  const x = normalise(imagesFromVectors(X, a), a.channels, m.normalisation);
  return evaluationOf(await predictNormalisedAsync(a, paramsFor(m), x), a.classes);
}
