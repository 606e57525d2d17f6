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
  scalar,
  tensor1d,
  tensor2d,
  tensor4d,
  tidy,
  valueAndGrads,
  variable,
  zerosLike,
  type Scalar,
  type Tensor,
  type Tensor2D,
  type Tensor4D,
  type Variable,
} from '@tensorflow/tfjs-core';
import { argmaxRow, type Evaluation } from '../evaluation.ts';
import { computeMetrics } from '../metrics.ts';
import { createRng, gaussian, shuffleInPlace, type Rng } from '../prng.ts';
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
  /**
   * Each batch as this many groups ("ghost batches") with their own batch-norm statistics and
   * summed gradients: a group is the unit another thread can compute (hooks.groupRunner), and
   * the result is the same whether the groups run there or one after the other here. Absent:
   * two for sets above LARGE_SET images, where training time matters, one below (whole-batch
   * statistics: BreastMNIST's test accuracy was 0.872 with them, 0.846 with two groups).
   */
  groups?: number;
  /** Label smoothing: each target is (1 - e) one-hot + e / k. Absent: 0. */
  labelSmoothing?: number;
  /**
   * Mixup: each batch is blended with a shuffled copy of itself, images and targets, by a
   * weight drawn from Beta(alpha, alpha). Absent or 0: off (and no draws from the generator,
   * so a seed trains the same model as before the setting existed).
   */
  mixup?: number;
  /** Which epoch's (averaged) weights are the result: the lowest validation loss (absent), or the last epoch run. */
  keep?: 'best' | 'last';
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

/** Training images above which a batch is two groups by default (32 batches of 64 an epoch). */
export const LARGE_SET = 2048;

/** Groups per batch: `groups`, else two for large sets and one for small ones. */
export const groupsFor = (s: Pick<CnnTrainSettings, 'groups'>, images: number): number => s.groups ?? (images > LARGE_SET ? 2 : 1);

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
  /** Runs groups of a batch (all but the first) elsewhere while this thread computes the first. */
  groupRunner?: GroupRunner;
}

/** One group of a batch, as sent to another thread. */
export interface GroupTask {
  architecture: CnnArchitecture;
  /** The trainable parameters' values, in parameterSpecs' order. */
  params: Float32Array[];
  /** Augmented, normalised images [m, size, size, channels]; labels; loss weight per image (class weight / batch size); dropout mask [m, last width]. */
  x: Float32Array;
  y: Int32Array;
  weights: Float32Array;
  mask: Float32Array;
  /** Soft targets [m, classes] (label smoothing, mixup); absent: one-hot of `y`. */
  targets?: Float32Array;
}

/** A group's gradients (trainable parameters in order), weighted loss, predicted classes and batch-norm statistics (per layer, in forward order). */
export interface GroupResult {
  grads: Float32Array[];
  loss: number;
  predicted: Int32Array;
  stats: { name: string; mean: Float32Array; variance: Float32Array }[];
}

/** Computes a group where it likes; it must give what runGroupTask gives on the same backend. */
export interface GroupRunner {
  run(task: GroupTask): Promise<GroupResult>;
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

/** Weighted cross-entropy of logits against one-hot targets (the weights hold 1 / batch size). */
function lossOf(logits: Tensor2D, oneHot: Tensor2D, weights: Tensor): Scalar {
  const perSample = neg(sum(mul(oneHot, logSoftmax(logits)), 1));
  return sum(mul(perSample, weights)) as Scalar;
}

interface GroupTensors {
  loss: Scalar;
  grads: Tensor[];
  predicted: Tensor;
  stats: BatchStats;
}

/**
 * Loss, gradients (of the `trainable` parameters, in order), predictions and batch-norm
 * statistics of one group of a batch. Call inside tidy; the statistics are kept (the caller
 * disposes them).
 */
function groupGradients(a: CnnArchitecture, params: Params, trainable: readonly string[], x: Tensor4D, ys: Int32Array, weights: Float32Array, mask: Tensor2D, targets?: Float32Array): GroupTensors {
  const stats: BatchStats = new Map();
  const target = targets ? tensor2d(targets, [ys.length, a.classes]) : oneHotOf(ys, a.classes);
  const w = tensor1d(weights);
  let logits: Tensor2D | null = null;
  const { value, grads } = valueAndGrads((...ts: Tensor[]) => {
    const p: Params = new Map(params);
    trainable.forEach((name, i) => p.set(name, ts[i]!));
    logits = keep(forward(a, p, x, { training: true, dropoutMask: mask, stats }));
    for (const st of stats.values()) {
      keep(st.mean);
      keep(st.variance);
    }
    return lossOf(logits, target, w);
  })(trainable.map((name) => params.get(name)!));
  const l = logits as unknown as Tensor2D;
  const predicted = argMax(l, 1);
  l.dispose();
  return { loss: value, grads, predicted, stats };
}

/** A group's task computed on the active backend: what a worker thread runs for GroupRunner. */
export function runGroupTask(task: GroupTask): GroupResult {
  const a = task.architecture;
  const trainable = parameterSpecs(a).filter((p) => p.trainable);
  const m = task.y.length;
  let stats: BatchStats = new Map();
  const out = tidy(() => {
    const params: Params = new Map(trainable.map((p, i) => [p.name, tensor(task.params[i]!, p.shape)]));
    const x = tensor4d(task.x, [m, a.inputSize, a.inputSize, a.channels]);
    const g = groupGradients(a, params, trainable.map((p) => p.name), x, task.y, task.weights, tensor2d(task.mask, [m, a.widths.at(-1)!]), task.targets);
    stats = g.stats;
    return {
      grads: g.grads.map((t) => t.dataSync() as Float32Array),
      loss: g.loss.dataSync()[0]!,
      predicted: Int32Array.from(g.predicted.dataSync()),
    };
  });
  const result = { ...out, stats: [...stats].map(([name, st]) => ({ name, mean: st.mean.dataSync() as Float32Array, variance: st.variance.dataSync() as Float32Array })) };
  for (const st of stats.values()) dispose([st.mean, st.variance]);
  return result;
}

const oneHotOf = (y: ArrayLike<number>, k: number): Tensor2D => {
  const v = new Float32Array(y.length * k);
  for (let i = 0; i < y.length; i++) v[i * k + y[i]!] = 1;
  return tensor2d(v, [y.length, k]);
};

/** Probabilities [m, k] of the normalised images from row `i` on, with the running BN statistics. */
const probabilitiesOf = (a: CnnArchitecture, p: Params, x: Float32Array, i: number, m: number): Tensor => {
  const per = a.inputSize * a.inputSize * a.channels;
  return tidy(() => softmax(forward(a, p, tensor4d(x.subarray(i * per, (i + m) * per), [m, a.inputSize, a.inputSize, a.channels]), { training: false })));
};

/** Probabilities [n, k] of normalised images, in batches, with the running BN statistics. */
export function predictNormalised(a: CnnArchitecture, p: Params, x: Float32Array, batch = 256): Float32Array {
  const n = x.length / (a.inputSize * a.inputSize * a.channels);
  const out = new Float32Array(n * a.classes);
  for (let i = 0; i < n; i += batch) {
    const probs = probabilitiesOf(a, p, x, i, Math.min(batch, n - i));
    out.set(probs.dataSync() as Float32Array, i * a.classes);
    probs.dispose();
  }
  return out;
}

/**
 * predictNormalised with the values read asynchronously: the same numbers, and the only way
 * WebGPU reads them (its synchronous read maps buffers through a canvas, which fails there).
 */
export async function predictNormalisedAsync(a: CnnArchitecture, p: Params, x: Float32Array, batch = 256): Promise<Float32Array> {
  const n = x.length / (a.inputSize * a.inputSize * a.channels);
  const out = new Float32Array(n * a.classes);
  for (let i = 0; i < n; i += batch) {
    const probs = probabilitiesOf(a, p, x, i, Math.min(batch, n - i));
    try {
      out.set((await probs.data()) as Float32Array, i * a.classes);
    } finally {
      probs.dispose();
    }
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

function dropoutMask(rng: Rng, rows: number, cols: number, rate: number): Float32Array {
  const v = new Float32Array(rows * cols);
  const keepScale = 1 / (1 - rate);
  for (let i = 0; i < v.length; i++) v[i] = rng.next() < rate ? 0 : keepScale;
  return v;
}

/** Gamma(shape, 1) by Marsaglia and Tsang (shape below 1 boosted by U^(1/shape)). */
function gammaSample(rng: Rng, shape: number): number {
  if (shape < 1) return gammaSample(rng, shape + 1) * (1 - rng.next()) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const z = gaussian(rng);
    const v = (1 + c * z) ** 3;
    if (v <= 0) continue;
    const u = 1 - rng.next();
    if (Math.log(u) < 0.5 * z * z + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** Beta(alpha, alpha) from two gamma draws. */
export function betaSample(rng: Rng, alpha: number): number {
  const x = gammaSample(rng, alpha);
  const y = gammaSample(rng, alpha);
  return x + y > 0 ? x / (x + y) : 0.5;
}

/**
 * A batch's soft targets [m, k], or undefined for plain one-hot: mixup blends the images in
 * `batchX` (in place) and their targets with a shuffled copy by lambda ~ Beta(alpha, alpha);
 * label smoothing then moves `smoothing` of each target to the uniform distribution. The loss
 * weights become the blended class weights.
 */
function softTargets(
  batchX: Float32Array,
  per: number,
  ys: Int32Array,
  k: number,
  lossWeights: Float32Array,
  weightsByClass: Float32Array,
  s: Pick<CnnTrainSettings, 'mixup' | 'labelSmoothing'>,
  rng: Rng,
): Float32Array | undefined {
  const alpha = s.mixup ?? 0;
  const smoothing = s.labelSmoothing ?? 0;
  if (alpha <= 0 && smoothing <= 0) return undefined;
  const m = ys.length;
  const t = new Float32Array(m * k);
  for (let i = 0; i < m; i++) t[i * k + ys[i]!] = 1;
  if (alpha > 0 && m > 1) {
    const lambda = betaSample(rng, alpha);
    const partner = Int32Array.from({ length: m }, (_, i) => i);
    shuffleInPlace(partner, rng);
    const original = batchX.slice(0, m * per);
    for (let i = 0; i < m; i++) {
      const j = partner[i]!;
      for (let q = 0; q < per; q++) batchX[i * per + q] = lambda * original[i * per + q]! + (1 - lambda) * original[j * per + q]!;
      for (let c = 0; c < k; c++) t[i * k + c] = lambda * (c === ys[i] ? 1 : 0) + (1 - lambda) * (c === ys[j] ? 1 : 0);
      lossWeights[i] = (lambda * weightsByClass[ys[i]!]! + (1 - lambda) * weightsByClass[ys[j]!]!) / m;
    }
  }
  if (smoothing > 0) for (let i = 0; i < t.length; i++) t[i] = (1 - smoothing) * t[i]! + smoothing / k;
  return t;
}

/** Row ranges [start, end) of `groups` near-equal groups of `m` rows (empty ones left out). */
export function groupRanges(m: number, groups: number): [number, number][] {
  const size = Math.ceil(m / Math.max(1, groups));
  const out: [number, number][] = [];
  for (let start = 0; start < m; start += size) out.push([start, Math.min(m, start + size)]);
  return out;
}

/**
 * Trains the network on the active tfjs backend: seeded initialisation, shuffling,
 * augmentation and dropout (one generator, so a seed gives the same model on a backend),
 * AdamW with warm-up and cosine decay, class weights, a moving average of the weights, and
 * early stopping on the validation loss; the averaged weights of the best epoch are the result.
 * Large sets run fewer epochs (`maxSteps`) and split each batch into groups (`groups`), which
 * `hooks.groupRunner` may compute on other threads without changing the result.
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
  let best = { loss: Infinity, epoch: 0, weights: await snapshot(averaged) };
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
        const width = a.widths.at(-1)!;
        const mask = dropoutMask(rng, m, width, a.dropout);
        const lossWeights = Float32Array.from(ys, (c) => weightsByClass[c]! / m);
        const targets = softTargets(batchX, per, ys, k, lossWeights, weightsByClass, s, rng);
        const lr = learningRateAt(step++, stepsPerEpoch, epochs, s.learningRate);
        const ranges = groupRanges(m, groupsFor(s, n));
        const runner = ranges.length > 1 ? hooks.groupRunner : undefined;
        // the other groups first, so that they run while this thread computes its own
        const values = runner ? await Promise.all(trainable.map((name) => vars.get(name)!.data() as Promise<Float32Array>)) : [];
        const remote = runner
          ? ranges.slice(1).map(([i, j]) =>
              runner.run({
                architecture: a,
                params: values,
                x: batchX.slice(i * per, j * per),
                y: ys.slice(i, j),
                weights: lossWeights.slice(i, j),
                mask: mask.slice(i * width, j * width),
                ...(targets ? { targets: targets.slice(i * k, j * k) } : {}),
              }),
            )
          : [];
        // a failure there surfaces at Promise.all below, not as an unhandled rejection before it
        for (const p of remote) p.catch(() => undefined);
        // each group's tensors kept out of the tidy scopes (disposed below)
        const held = (g: GroupTensors): GroupTensors => {
          keep(g.loss);
          g.grads.forEach((t) => keep(t));
          keep(g.predicted);
          for (const st of g.stats.values()) {
            keep(st.mean);
            keep(st.variance);
          }
          return g;
        };
        const results: GroupTensors[] = [];
        tidy(() => {
          for (const [i, j] of ranges.slice(0, runner ? 1 : ranges.length)) {
            const x = tensor4d(batchX.subarray(i * per, j * per), [j - i, a.inputSize, a.inputSize, a.channels]);
            results.push(
              held(groupGradients(a, vars, trainable, x, ys.subarray(i, j), lossWeights.subarray(i, j), tensor2d(mask.subarray(i * width, j * width), [j - i, width]), targets?.subarray(i * k, j * k))),
            );
          }
        });
        for (const r of await Promise.all(remote)) {
          tidy(() => {
            const stats: BatchStats = new Map(r.stats.map((st) => [st.name, { mean: tensor(st.mean), variance: tensor(st.variance) }]));
            results.push(held({ loss: scalar(r.loss), grads: r.grads.map((g, i) => tensor(g, vars.get(trainable[i]!)!.shape)), predicted: tensor(r.predicted, undefined, 'int32'), stats }));
          });
        }
        tidy(() => {
          // gradients summed and statistics averaged over the groups, in group order
          const total = (pick: (g: GroupTensors) => Tensor) => results.slice(1).reduce((acc, g) => add(acc, pick(g)), pick(results[0]!));
          // AdamW
          const t = step;
          const c1 = 1 - BETA1 ** t;
          const c2 = 1 - BETA2 ** t;
          trainable.forEach((name, i) => {
            const g = total((r) => r.grads[i]!);
            const m1 = moments1.get(name)!;
            const m2 = moments2.get(name)!;
            m1.assign(add(mul(m1, BETA1), mul(g, 1 - BETA1)));
            m2.assign(add(mul(m2, BETA2), mul(mul(g, g), 1 - BETA2)));
            const v = vars.get(name)!;
            let update = div(mul(m1, lr / c1), add(sqrt(div(m2, c2)), ADAM_EPSILON));
            if (decays.has(name)) update = add(update, mul(v, lr * s.weightDecay));
            v.assign(sub(v, update));
          });
          for (const name of results[0]!.stats.keys()) {
            const mm = vars.get(`${name}/movingMean`)!;
            const mv = vars.get(`${name}/movingVariance`)!;
            const share = (1 - BN_MOMENTUM) / results.length;
            mm.assign(add(mul(mm, BN_MOMENTUM), mul(total((r) => r.stats.get(name)!.mean), share)));
            mv.assign(add(mul(mv, BN_MOMENTUM), mul(total((r) => r.stats.get(name)!.variance), share)));
          }
          const decay = Math.min(EMA_DECAY, (1 + t) / (10 + t));
          for (const [name, avg] of averaged) avg.assign(add(mul(avg, decay), mul(vars.get(name)!, 1 - decay)));
        });
        let offset = 0;
        for (const r of results) {
          lossSum += (await r.loss.data())[0]! * m;
          const p = await r.predicted.data();
          for (let i = 0; i < p.length; i++) correct += +(p[i] === ys[offset + i]);
          offset += p.length;
          for (const st of r.stats.values()) dispose([st.mean, st.variance]);
          dispose([r.loss, r.predicted, ...r.grads]);
        }
        await hooks.onBatch?.(b + 1, stepsPerEpoch);
      }
      const probs = await predictNormalisedAsync(a, averaged, xVal);
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
      if (valLoss < best.loss || s.keep === 'last') best = { loss: valLoss, epoch, weights: await snapshot(averaged) };
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

/** The variables' values, read asynchronously (every backend; WebGPU only so). */
async function snapshot(vars: Map<string, Variable>): Promise<Map<string, Float32Array>> {
  const values = await Promise.all([...vars.values()].map((v) => v.data() as Promise<Float32Array>));
  return new Map([...vars.keys()].map((name, i) => [name, Float32Array.from(values[i]!)]));
}

function meanCrossEntropy(probs: Float32Array, y: Int32Array, k: number): number {
  if (y.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < y.length; i++) s -= Math.log(Math.max(probs[i * k + y[i]!]!, 1e-12));
  return s / y.length;
}
