// tfjs-core's gradients: tfjs-layers registers them all (in Node, its bundle carries them; tfjs-core's own
// register_all_gradients is an ES module Node cannot load).
import '@tensorflow/tfjs-layers';
import {
  add,
  argMax,
  tensor,
  div,
  dispose,
  keep,
  mul,
  neg,
  softmax,
  sqrt,
  sub,
  sum,
  logSoftmax,
  tensor1d,
  tensor2d,
  tensor4d,
  tidy,
  variable,
  variableGrads,
  zerosLike,
  type Scalar,
  type Tensor,
  type Tensor2D,
  type Variable,
} from '@tensorflow/tfjs-core';
import { argmaxRow, type Evaluation } from '../evaluation.ts';
import { computeMetrics } from '../metrics.ts';
import { createRng, shuffleInPlace, type Rng } from '../prng.ts';
import { augmentImage, type AugmentSettings } from './augment.ts';
import { forward, initialValues, parameterSpecs, type BatchStats, type CnnArchitecture, type Params } from './network.ts';

/** Images in NHWC, intensities as decoded (0 to 1), and their class indices. */
export interface ImageSet {
  x: Float32Array;
  y: Int32Array;
}

/** Per channel: what is subtracted and what divides, fitted on the training images. */
export interface Normalisation {
  mean: number[];
  std: number[];
}

export interface CnnTrainSettings {
  /** Most epochs; early stopping may end sooner. */
  epochs: number;
  batchSize: number;
  /** Peak learning rate of Adam (after one epoch of warm-up, then a cosine decay to zero). */
  learningRate: number;
  /** Decoupled weight decay (AdamW) on the conv and dense kernels. */
  weightDecay: number;
  /** Epochs without a better validation loss before training stops. */
  patience: number;
  augment: AugmentSettings;
  /** 'balanced': each class weighs n / (k n_c) in the loss. */
  classWeight: 'balanced' | null;
  seed: number;
  /** Stops after the epoch that passes this many milliseconds (null: no limit). */
  budgetMs: number | null;
  /**
   * Fewer epochs for large sets: at most as many as reach this many optimiser steps (batches),
   * so that training time stops growing with the set (5,000 28x28 images: 8 epochs, about
   * three minutes on one core). Absent: DEFAULT_CNN_SETTINGS'; null: `epochs` only.
   */
  maxSteps?: number | null;
}

export const DEFAULT_CNN_SETTINGS: Readonly<Omit<CnnTrainSettings, 'augment'>> = Object.freeze({
  epochs: 30,
  batchSize: 64,
  learningRate: 3e-3,
  weightDecay: 1e-4,
  patience: 8,
  classWeight: null,
  seed: 1,
  budgetMs: null,
  maxSteps: 600,
});

/** Epochs a training runs: `epochs`, or fewer where they would pass the step cap (never under one). */
export function epochsFor(s: Pick<CnnTrainSettings, 'epochs' | 'maxSteps'>, stepsPerEpoch: number): number {
  const cap = s.maxSteps === undefined ? (DEFAULT_CNN_SETTINGS.maxSteps ?? null) : s.maxSteps;
  return cap === null ? s.epochs : Math.max(1, Math.min(s.epochs, Math.ceil(cap / Math.max(1, stepsPerEpoch))));
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  learningRate: number;
  loss: number;
  accuracy: number;
  valLoss: number;
  valAccuracy: number;
  valAuc: number | null;
  ms: number;
}

export interface CnnTrainHooks {
  onEpoch?(r: EpochReport): void;
  /** After each batch (done of total in the epoch): the place to yield to a page's event loop. */
  onBatch?(done: number, total: number): void | Promise<void>;
  signal?: AbortSignal;
}

export interface CnnTrainResult {
  weights: Map<string, Float32Array>;
  normalisation: Normalisation;
  history: EpochReport[];
  /** Epoch (1-based) whose weights were kept: the lowest validation loss. */
  bestEpoch: number;
  stopped: 'epochs' | 'early' | 'budget';
}

export function fitNormalisation(x: Float32Array, channels: number): Normalisation {
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < channels; c++) {
    let s = 0;
    let n = 0;
    for (let i = c; i < x.length; i += channels, n++) s += x[i]!;
    const m = s / Math.max(1, n);
    let q = 0;
    for (let i = c; i < x.length; i += channels) q += (x[i]! - m) ** 2;
    mean.push(m);
    std.push(Math.max(Math.sqrt(q / Math.max(1, n)), 1e-3));
  }
  return { mean, std };
}

export function normalise(x: Float32Array, channels: number, norm: Normalisation, out = new Float32Array(x.length)): Float32Array {
  for (let i = 0; i < x.length; i++) {
    const c = i % channels;
    out[i] = (x[i]! - norm.mean[c]!) / norm.std[c]!;
  }
  return out;
}

function classWeights(y: Int32Array, k: number, mode: 'balanced' | null): Float32Array {
  const w = new Float32Array(k).fill(1);
  if (mode !== 'balanced') return w;
  const counts = new Float64Array(k);
  for (const c of y) counts[c]!++;
  for (let c = 0; c < k; c++) w[c] = counts[c]! > 0 ? y.length / (k * counts[c]!) : 0;
  return w;
}

/** Mean weighted cross-entropy of logits against one-hot targets. */
function lossOf(logits: Tensor2D, oneHot: Tensor2D, weights: Tensor): Scalar {
  const perSample = neg(sum(mul(oneHot, logSoftmax(logits)), 1));
  return div(sum(mul(perSample, weights)), logits.shape[0]) as Scalar;
}

const oneHotOf = (y: ArrayLike<number>, k: number): Tensor2D => {
  const v = new Float32Array(y.length * k);
  for (let i = 0; i < y.length; i++) v[i * k + y[i]!] = 1;
  return tensor2d(v, [y.length, k]);
};

/** Probabilities [n, k] of normalised images, in batches, with the running BN statistics. */
export function predictNormalised(a: CnnArchitecture, p: Params, x: Float32Array, batch = 256): Float32Array {
  const per = a.inputSize * a.inputSize * a.channels;
  const n = x.length / per;
  const out = new Float32Array(n * a.classes);
  for (let i = 0; i < n; i += batch) {
    const m = Math.min(batch, n - i);
    const probs = tidy(() => softmax(forward(a, p, tensor4d(x.subarray(i * per, (i + m) * per), [m, a.inputSize, a.inputSize, a.channels]), { training: false })));
    out.set(probs.dataSync() as Float32Array, i * a.classes);
    probs.dispose();
  }
  return out;
}

/** An Evaluation from probabilities (scores and probabilities in double). */
export function evaluationOf(probs: Float32Array, k: number): Evaluation {
  const scores = Float64Array.from(probs);
  const n = scores.length / k;
  return { k, predicted: Int32Array.from({ length: n }, (_, i) => argmaxRow(scores, i, k)), scores, probabilities: scores };
}

/** Variables need names unique in the engine: one prefix per training run. */
let runs = 0;

const BETA1 = 0.9;
const BETA2 = 0.999;
const ADAM_EPSILON = 1e-7;
const BN_MOMENTUM = 0.9;
const EMA_DECAY = 0.99;

/** Learning rate of a step: linear warm-up over the first epoch, then a half cosine to zero. */
export function learningRateAt(step: number, stepsPerEpoch: number, epochs: number, peak: number): number {
  const warm = stepsPerEpoch;
  if (step < warm) return (peak * (step + 1)) / warm;
  const t = (step - warm) / Math.max(1, stepsPerEpoch * epochs - warm);
  return 0.5 * peak * (1 + Math.cos(Math.PI * Math.min(1, t)));
}

function dropoutMask(rng: Rng, rows: number, cols: number, rate: number): Tensor2D {
  const v = new Float32Array(rows * cols);
  const keepScale = 1 / (1 - rate);
  for (let i = 0; i < v.length; i++) v[i] = rng.next() < rate ? 0 : keepScale;
  return tensor2d(v, [rows, cols]);
}

/**
 * Trains the network on the active tfjs backend: seeded initialisation, shuffling,
 * augmentation and dropout (one generator, so a seed gives the same model on a backend),
 * AdamW with warm-up and cosine decay, class weights, a moving average of the weights, and
 * early stopping on the validation loss; the averaged weights of the best epoch are the result.
 */
export async function trainCnn(a: CnnArchitecture, train: ImageSet, val: ImageSet, s: CnnTrainSettings, hooks: CnnTrainHooks = {}): Promise<CnnTrainResult> {
  const started = Date.now();
  const rng = createRng(s.seed);
  const per = a.inputSize * a.inputSize * a.channels;
  const n = train.y.length;
  const k = a.classes;
  const normalisation = fitNormalisation(train.x, a.channels);
  const xTrain = normalise(train.x, a.channels, normalisation);
  const xVal = normalise(val.x, a.channels, normalisation);
  const specs = parameterSpecs(a);
  const init = initialValues(a, rng);
  const run = ++runs;
  const vars = new Map<string, Variable>(specs.map((p) => [p.name, variableOf(tensor(init.get(p.name)!, p.shape), p.trainable, `cnn${run}/${p.name}`)]));
  const trainable = specs.filter((p) => p.trainable).map((p) => p.name);
  const moments1 = new Map(trainable.map((name) => [name, variableOf(zerosLike(vars.get(name)!), false)]));
  const moments2 = new Map(trainable.map((name) => [name, variableOf(zerosLike(vars.get(name)!), false)]));
  // The weights evaluated and kept: an exponential moving average of the trained ones (and of
  // the BN statistics), which smooths out the noise of small batches and small validation sets.
  const averaged = new Map(specs.map((p) => [p.name, variableOf(vars.get(p.name)!.clone(), false)]));
  const decays = new Set(trainable.filter((name) => name.endsWith('/kernel')));
  const weightsByClass = classWeights(train.y, k, s.classWeight);
  const stepsPerEpoch = Math.ceil(n / s.batchSize);
  const epochs = epochsFor(s, stepsPerEpoch);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const batchX = new Float32Array(s.batchSize * per);
  const history: EpochReport[] = [];
  let best = { loss: Infinity, epoch: 0, weights: snapshot(averaged) };
  let stopped: CnnTrainResult['stopped'] = 'epochs';
  let step = 0;
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const epochStarted = Date.now();
      shuffleInPlace(order, rng);
      let lossSum = 0;
      let correct = 0;
      for (let b = 0; b < stepsPerEpoch; b++) {
        if (hooks.signal?.aborted) throw new Error('training was stopped');
        const rows = order.subarray(b * s.batchSize, Math.min(n, (b + 1) * s.batchSize));
        const m = rows.length;
        const ys = Int32Array.from(rows, (r) => train.y[r]!);
        rows.forEach((r, i) => augmentImage(xTrain.subarray(r * per, (r + 1) * per), a.inputSize, a.channels, s.augment, rng, batchX.subarray(i * per, (i + 1) * per)));
        const mask = dropoutMask(rng, m, a.widths.at(-1)!, a.dropout);
        const lr = learningRateAt(step++, stepsPerEpoch, epochs, s.learningRate);
        const stats: BatchStats = new Map();
        const [lossValue, predicted] = tidy(() => {
          const x = tensor4d(batchX.subarray(0, m * per), [m, a.inputSize, a.inputSize, a.channels]);
          const target = oneHotOf(ys, k);
          const w = tensor1d(Float32Array.from(ys, (c) => weightsByClass[c]!));
          let logits: Tensor2D | null = null;
          const { value, grads } = variableGrads(() => {
            logits = keep(forward(a, vars, x, { training: true, dropoutMask: mask, stats }));
            for (const st of stats.values()) {
              keep(st.mean);
              keep(st.variance);
            }
            return lossOf(logits, target, w);
          }, trainable.map((name) => vars.get(name)!));
          // AdamW
          const t = step;
          const c1 = 1 - BETA1 ** t;
          const c2 = 1 - BETA2 ** t;
          for (const name of trainable) {
            const g = grads[vars.get(name)!.name]!;
            const m1 = moments1.get(name)!;
            const m2 = moments2.get(name)!;
            m1.assign(add(mul(m1, BETA1), mul(g, 1 - BETA1)));
            m2.assign(add(mul(m2, BETA2), mul(mul(g, g), 1 - BETA2)));
            const v = vars.get(name)!;
            let update = div(mul(m1, lr / c1), add(sqrt(div(m2, c2)), ADAM_EPSILON));
            if (decays.has(name)) update = add(update, mul(v, lr * s.weightDecay));
            v.assign(sub(v, update));
          }
          for (const [name, st] of stats) {
            const mm = vars.get(`${name}/movingMean`)!;
            const mv = vars.get(`${name}/movingVariance`)!;
            mm.assign(add(mul(mm, BN_MOMENTUM), mul(st.mean, 1 - BN_MOMENTUM)));
            mv.assign(add(mul(mv, BN_MOMENTUM), mul(st.variance, 1 - BN_MOMENTUM)));
          }
          const decay = Math.min(EMA_DECAY, (1 + t) / (10 + t));
          for (const [name, avg] of averaged) avg.assign(add(mul(avg, decay), mul(vars.get(name)!, 1 - decay)));
          const l = logits as unknown as Tensor2D;
          return [value, argMax(l, 1)];
        });
        for (const st of stats.values()) dispose([st.mean, st.variance]);
        mask.dispose();
        lossSum += (await lossValue.data())[0]! * m;
        const p = await predicted.data();
        for (let i = 0; i < m; i++) correct += +(p[i] === ys[i]);
        dispose([lossValue, predicted]);
        await hooks.onBatch?.(b + 1, stepsPerEpoch);
      }
      const probs = predictNormalised(a, averaged, xVal);
      const valLoss = meanCrossEntropy(probs, val.y, k);
      const metrics = val.y.length ? computeMetrics(val.y, evaluationOf(probs, k), Array.from({ length: k }, (_, i) => String(i))) : null;
      const report: EpochReport = {
        epoch,
        epochs,
        learningRate: learningRateAt(step - 1, stepsPerEpoch, epochs, s.learningRate),
        loss: lossSum / n,
        accuracy: correct / n,
        valLoss,
        valAccuracy: metrics?.accuracy ?? 0,
        valAuc: metrics?.auc ?? null,
        ms: Date.now() - epochStarted,
      };
      history.push(report);
      hooks.onEpoch?.(report);
      if (valLoss < best.loss) best = { loss: valLoss, epoch, weights: snapshot(averaged) };
      else if (epoch - best.epoch >= s.patience) {
        stopped = 'early';
        break;
      }
      if (s.budgetMs !== null && Date.now() - started >= s.budgetMs && epoch < epochs) {
        stopped = 'budget';
        break;
      }
    }
  } finally {
    dispose([...vars.values(), ...averaged.values(), ...moments1.values(), ...moments2.values()]);
  }
  return { weights: best.weights, normalisation, history, bestEpoch: best.epoch, stopped };
}

/** A variable holding a tensor's values; the tensor itself is let go. */
function variableOf(t: Tensor, trainable: boolean, name?: string): Variable {
  const v = variable(t, trainable, name);
  t.dispose();
  return v;
}

function snapshot(vars: Map<string, Variable>): Map<string, Float32Array> {
  return new Map([...vars].map(([name, v]) => [name, Float32Array.from(v.dataSync() as Float32Array)]));
}

function meanCrossEntropy(probs: Float32Array, y: Int32Array, k: number): number {
  if (y.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < y.length; i++) s -= Math.log(Math.max(probs[i * k + y[i]!]!, 1e-12));
  return s / y.length;
}
