import { ClassifyError } from './errors.ts';
import { paramsLabel, type CandidateParams, type KnnParams, type SvmParams } from './params.ts';
import { predict, type ClassifierModel, type Predictor } from './classifier.ts';
import { stratifiedFolds, type Split } from './cv.ts';
import { argmaxRow, type Evaluation } from './evaluation.ts';
import { canPrecompute, gramData, OnDemandKernel, precomputedKernel, type FullKernel, type GramData } from './kernel.ts';
import { distancesFromDots, neighbourVotes, type KnnMetric } from './knn.ts';
import { crossProduct, matrix, squaredNorms, takeRows, type Matrix } from './linalg.ts';
import { balancedAccuracy, computeMetrics, type Metrics } from './metrics.ts';
import { createRng } from './prng.ts';
import { rocCurves, type RocCurve } from './roc.ts';
import { fitScaler, overallVariance, transform, type Scaler } from './scaler.ts';
import { balancedWeights, buildSvmModel, ovrScores, pairDecisions, scaleGamma, solveOneVsOne, votes, type SvmSettings } from './svm.ts';

/** Feature vectors (rows) and their class indices. */
export interface LabelledSet {
  X: Matrix;
  y: Int32Array;
}

export interface TrainData {
  labels: string[];
  train: LabelledSet;
  /** Chooses the settings under --auto, and gives the estimate otherwise. */
  val?: LabelledSet | undefined;
  /** Scored once, by the final model. */
  test?: LabelledSet | undefined;
}

export interface TrainSettings {
  /** The model to fit, or the one to start from; with `auto` the grid decides what it names. */
  params: CandidateParams;
  auto: boolean;
  classWeight: 'balanced' | null;
  /** Platt sigmoids for SVM probabilities. */
  probability: boolean;
  seed: number;
  folds: number;
  tol: number;
  shrinking: boolean;
  /** Two classes: the decision threshold on class 1's score (see Predictor.threshold); --auto chooses it on validation. */
  threshold?: number | undefined;
}

/** What was decided before the final fit, on worker threads: --auto's selection, estimate and report, or a plain cross-validated estimate. */
export interface Preset {
  selection: Selection | null;
  estimate: TrainOutcome['estimate'];
  estimateRoc: RocCurve[];
  /** The search's summary, kept in the model file (plain JSON); absent for a plain cross-validation. */
  auto?: AutoSummary | undefined;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** Plain JSON (no undefined, no NaN), checked as z.json() when a model file loads. */
export type AutoSummary = { [key: string]: JsonValue };

export const DEFAULT_SETTINGS: Omit<TrainSettings, 'params'> = {
  auto: false,
  classWeight: null,
  probability: true,
  seed: 1,
  folds: 5,
  tol: 1e-3,
  shrinking: true,
};

export type Stage = 'tuning' | 'estimating' | 'fitting';
export interface TrainHooks {
  progress?(stage: Stage, done: number, total: number): void;
}

export interface CandidateResult {
  params: CandidateParams;
  label: string;
  /** Binary SVM problems stopped by the tuning iteration cap (an approximate fit). */
  capped: number;
  /** Mean over folds (or the validation split) of the balanced accuracy. */
  balancedAccuracy: number;
  /** Per fold. */
  folds: number[];
}

export interface Selection {
  mode: 'validation' | 'cross-validation';
  folds: number;
  candidates: CandidateResult[];
  best: number;
}

export interface TrainOutcome {
  predictor: Predictor;
  /** The chosen settings, gamma resolved. */
  params: CandidateParams;
  /** gamma as a number (SVM RBF) on the full training set. */
  gamma: number | null;
  selection: Selection | null;
  /** The chosen settings on the validation split, or cross-validated on train (out-of-fold). */
  estimate: { mode: 'validation' | 'cross-validation'; folds: number; metrics: Metrics; foldBalancedAccuracy: number[] };
  test: Metrics | null;
  /** SMO iterations of the final fit, per pair (SVM). */
  iterations: number[];
  /** Pairs of the final fit stopped by libsvm's iteration cap before convergence. */
  capped: number;
  /** --auto's search summary (feature sets, sizes, classifiers tried and why the winner won). */
  auto?: AutoSummary | undefined;
  /** ROC curves of the estimate (validation, or out-of-fold on train), per class (not made for the CNN). */
  estimateRoc?: RocCurve[] | undefined;
}

/**
 * Tuning fits stop after this many SMO iterations per binary problem: a linear kernel with
 * a large C can take tens of millions (scikit-learn too), and a grid only needs a ranking.
 */
export const TUNING_MAX_ITER = (l: number): number => Math.max(20_000, 200 * l);

/** C in 0.1 .. 100 (a 1-3 log grid), gamma as multiples of 'scale'. */
export const C_GRID = [0.1, 0.3, 1, 3, 10, 30, 100];
export const GAMMA_FACTORS = [0.1, 1 / 3, 1, 3, 10];
export const K_GRID = Array.from({ length: 16 }, (_, i) => 2 * i + 1);

/** The candidates --auto tries, simplest first (the first of equal scores wins). */
export function grid(start: CandidateParams): CandidateParams[] {
  if (start.type === 'cnn' || start.type === 'ensemble') return [start];
  if (start.type === 'svm') {
    const gammas = start.kernel === 'rbf' ? GAMMA_FACTORS.map((f) => ({ scale: f })) : [{ scale: 1 }];
    return C_GRID.flatMap((C) => gammas.map((gamma) => ({ type: 'svm', kernel: start.kernel, C, gamma }) satisfies SvmParams));
  }
  const metrics: KnnMetric[] = ['euclidean', 'cosine'];
  return [...K_GRID].reverse().flatMap((k) => metrics.map((metric) => ({ type: 'knn', k, metric, weights: start.weights }) satisfies KnnParams));
}

/** A fold's data standardised by its own training part, with the Gram matrix when it fits in memory. */
interface Prepared {
  X: Matrix;
  scaler: Scaler;
  gamma1: number;
  gram: GramData | null;
}

function prepare(X: Matrix, train: Int32Array, needGram: boolean): Prepared {
  const scaler = fitScaler(takeRows(X, train));
  const Xs = transform(scaler, X);
  const gamma1 = scaleGamma(X.cols, overallVariance(takeRows(Xs, train)));
  return { X: Xs, scaler, gamma1, gram: needGram && canPrecompute(X.rows) ? gramData(Xs) : null };
}

function svmSettings(p: SvmParams, gamma1: number, s: TrainSettings, y: Int32Array, train: Int32Array, k: number, probability: boolean): SvmSettings {
  const trainY = Int32Array.from(train, (i) => y[i]!);
  return {
    kernel: p.kernel,
    C: p.C,
    gamma: 'value' in p.gamma ? p.gamma.value : p.gamma.scale * gamma1,
    classWeight: s.classWeight === 'balanced' ? balancedWeights(trainY, k) : null,
    probability,
    shrinking: s.shrinking,
    tol: s.tol,
  };
}

function kernelFor(prep: Prepared, settings: SvmSettings): FullKernel {
  return prep.gram ? precomputedKernel(prep.gram, settings.kernel, settings.gamma) : new OnDemandKernel(prep.X, settings.kernel, settings.gamma);
}

/** Every candidate fitted on split.train and evaluated on split.test. */
export function evaluateOnSplit(X: Matrix, y: Int32Array, k: number, split: Split, candidates: CandidateParams[], s: TrainSettings, capped: Int32Array, tick: () => void): Evaluation[] {
  const needGram = candidates.some((c) => c.type === 'svm');
  const prep = prepare(X, split.train, needGram);
  const out: Evaluation[] = new Array(candidates.length);
  const m = split.test.length;
  // SVM: one kernel matrix per gamma, shared by the C values.
  const byGamma = new Map<number, number[]>();
  candidates.forEach((c, i) => {
    if (c.type !== 'svm') return;
    const g = svmSettings(c, prep.gamma1, s, y, split.train, k, false).gamma;
    byGamma.set(g, [...(byGamma.get(g) ?? []), i]);
  });
  for (const members of byGamma.values()) {
    let kernel: FullKernel | null = null;
    for (const i of members) {
      const settings = { ...svmSettings(candidates[i] as SvmParams, prep.gamma1, s, y, split.train, k, false), maxIter: TUNING_MAX_ITER };
      kernel ??= kernelFor(prep, settings);
      const pairs = solveOneVsOne(kernel, y, k, split.train, settings, null);
      capped[i]! += pairs.filter((p) => p.hitLimit).length;
      const dec = pairDecisions(kernel, pairs, split.test);
      out[i] = { k, predicted: votes(dec, m, k), scores: ovrScores(dec, m, k), probabilities: null };
      tick();
    }
  }
  // KNN: distances from the test part to the training part, per metric.
  const knn = candidates.flatMap((c, i) => (c.type === 'knn' ? [i] : []));
  if (knn.length) {
    const A = takeRows(prep.X, split.test);
    const B = takeRows(prep.X, split.train);
    const dots = crossProduct(A, B);
    const sqA = squaredNorms(A);
    const sqB = squaredNorms(B);
    const rows = Int32Array.from({ length: m }, (_, i) => i);
    const cols = Int32Array.from({ length: B.rows }, (_, i) => i);
    const targets = Int32Array.from(split.train, (i) => y[i]!);
    const dist = new Map<KnnMetric, Float64Array>();
    for (const i of knn) {
      const c = candidates[i] as KnnParams;
      if (!dist.has(c.metric)) dist.set(c.metric, distancesFromDots(dots, sqA, sqB, c.metric));
      const fractions = neighbourVotes(dist.get(c.metric)!, B.rows, rows, cols, targets, k, c.k, c.weights);
      const predicted = Int32Array.from({ length: m }, (_, r) => argmaxRow(fractions, r, k));
      out[i] = { k, predicted, scores: fractions, probabilities: fractions };
      tick();
    }
  }
  return out;
}

/** The evaluation splits: train -> val, or stratified folds of train. Rows index `X` below. */
function splitsFor(data: TrainData, s: TrainSettings): { X: Matrix; y: Int32Array; splits: Split[]; mode: 'validation' | 'cross-validation' } {
  const k = data.labels.length;
  if (data.val && data.val.y.length > 0) {
    const { train, val } = data;
    const data2 = new Float64Array(train.X.data.length + val.X.data.length);
    data2.set(train.X.data);
    data2.set(val.X.data, train.X.data.length);
    const X = matrix(train.X.rows + val.X.rows, train.X.cols, data2);
    const y = new Int32Array(train.y.length + val.y.length);
    y.set(train.y);
    y.set(val.y, train.y.length);
    const split = {
      train: Int32Array.from({ length: train.X.rows }, (_, i) => i),
      test: Int32Array.from({ length: val.X.rows }, (_, i) => train.X.rows + i),
    };
    return { X, y, splits: [split], mode: 'validation' };
  }
  return { X: data.train.X, y: data.train.y, splits: stratifiedFolds(data.train.y, k, s.folds, s.seed), mode: 'cross-validation' };
}

/** Out-of-fold evaluations of each candidate, gathered in the order of `order` (the test rows). */
function runSplits(X: Matrix, y: Int32Array, k: number, splits: Split[], candidates: CandidateParams[], s: TrainSettings, capped: Int32Array, tick: () => void) {
  const perSplit = splits.map((split) => evaluateOnSplit(X, y, k, split, candidates, s, capped, tick));
  return candidates.map((_, c) => {
    const foldScores = splits.map((split, f) => balancedAccuracy(Int32Array.from(split.test, (i) => y[i]!), perSplit[f]![c]!.predicted, k));
    // Pooled: every evaluated row once, in split order.
    const rows = splits.flatMap((split) => Array.from(split.test));
    const predicted = new Int32Array(rows.length);
    const scores = new Float64Array(rows.length * k);
    let o = 0;
    splits.forEach((split, f) => {
      const e = perSplit[f]![c]!;
      predicted.set(e.predicted, o);
      scores.set(e.scores, o * k);
      o += split.test.length;
    });
    return { foldScores, pooled: { k, predicted, scores, probabilities: null } as Evaluation, truth: Int32Array.from(rows, (i) => y[i]!) };
  });
}

/**
 * The model itself: standardisation fitted on all of train, then the classifier (for the
 * SVM: Gram matrix, one-vs-one SMO, Platt's sigmoids when asked, seeded by seed + 1).
 */
export function fitFinal(train: LabelledSet, k: number, params: CandidateParams, s: TrainSettings, hooks: TrainHooks = {}) {
  const all = Int32Array.from({ length: train.X.rows }, (_, i) => i);
  if (params.type === 'svm') {
    hooks.progress?.('fitting', 0, (k * (k - 1)) / 2);
    const prep = prepare(train.X, all, true);
    const settings = svmSettings(params, prep.gamma1, s, train.y, all, k, s.probability);
    const kernel = kernelFor(prep, settings);
    const pairs = solveOneVsOne(kernel, train.y, k, all, settings, createRng(s.seed + 1), (d, t) => hooks.progress?.('fitting', d, t));
    const classifier: ClassifierModel = {
      type: 'svm',
      C: params.C,
      classWeight: settings.classWeight ? Array.from(settings.classWeight) : null,
      model: buildSvmModel(prep.X, train.y, k, pairs, settings),
    };
    return {
      predictor: { scaler: prep.scaler, classifier } satisfies Predictor,
      gamma: params.kernel === 'rbf' ? settings.gamma : null,
      iterations: pairs.map((p) => p.iterations),
      capped: pairs.filter((p) => p.hitLimit).length,
    };
  }
  if (params.type === 'cnn' || params.type === 'ensemble') throw new ClassifyError('invalidOptions', `the ${params.type === 'cnn' ? 'CNN trains through trainCnnModel (shared/classify/cnn/train_model.ts)' : 'ensemble is assembled by --auto (server/training/auto_cnn.ts)'}, not fitFinal`);
  hooks.progress?.('fitting', 0, 1);
  const scaler = fitScaler(train.X);
  const classifier: ClassifierModel = {
    type: 'knn',
    model: { k: params.k, metric: params.metric, weights: params.weights, nClasses: k, samples: transform(scaler, train.X), targets: Int32Array.from(train.y) },
  };
  hooks.progress?.('fitting', 1, 1);
  return { predictor: { scaler, classifier } satisfies Predictor, gamma: null, iterations: [] as number[], capped: 0 };
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);

/**
 * Fits a model: with `auto`, every grid candidate is scored by balanced accuracy on val
 * (or by stratified k-fold cross-validation of train) and the best refitted on train; the
 * chosen settings' validation or cross-validated metrics are reported, and test is scored
 * once by the final model.
 */
export function trainModel(data: TrainData, s: TrainSettings, hooks: TrainHooks = {}, preset?: Preset): TrainOutcome {
  if (preset) return fitPreset(data, s, hooks, preset);
  const k = data.labels.length;
  if (s.params.type === 'cnn' || s.params.type === 'ensemble') throw new ClassifyError('invalidOptions', `the ${s.params.type === 'cnn' ? 'CNN trains through trainCnnModel (shared/classify/cnn/train_model.ts)' : 'ensemble is assembled by --auto (server/training/auto_cnn.ts)'}, not trainModel`);
  const { X, y, splits, mode } = splitsFor(data, s);
  const candidates = s.auto ? grid(s.params) : [s.params];
  const total = splits.length * candidates.length;
  let done = 0;
  const stage: Stage = s.auto ? 'tuning' : 'estimating';
  hooks.progress?.(stage, 0, total);
  const capped = new Int32Array(candidates.length);
  const results = runSplits(X, y, k, splits, candidates, s, capped, () => hooks.progress?.(stage, ++done, total));
  const scored: CandidateResult[] = candidates.map((params, c) => ({
    params,
    label: paramsLabel(params),
    capped: capped[c]!,
    balancedAccuracy: mean(results[c]!.foldScores),
    folds: results[c]!.foldScores,
  }));
  let best = 0;
  scored.forEach((r, c) => {
    if (r.balancedAccuracy > scored[best]!.balancedAccuracy) best = c;
  });
  const chosen = candidates[best]!;
  const estimate = {
    mode,
    folds: splits.length,
    metrics: computeMetrics(results[best]!.truth, results[best]!.pooled, data.labels),
    foldBalancedAccuracy: results[best]!.foldScores,
  };

  // The final fit on all of train.
  const fit = fitFinal(data.train, k, chosen, s, hooks);
  const { predictor } = fit;
  const test = data.test && data.test.y.length > 0 ? computeMetrics(data.test.y, predict(predictor, data.test.X), data.labels) : null;
  return {
    predictor,
    params: chosen,
    gamma: fit.gamma,
    selection: s.auto ? { mode, folds: splits.length, candidates: scored, best } : null,
    estimate,
    test,
    iterations: fit.iterations,
    capped: fit.capped,
    estimateRoc: rocCurves(results[best]!.truth, results[best]!.pooled.scores, results[best]!.pooled.predicted, data.labels),
  };
}


/** The final fit of a model --auto has already chosen (its selection and estimate come with it). */
function fitPreset(data: TrainData, s: TrainSettings, hooks: TrainHooks, preset: Preset): TrainOutcome {
  const k = data.labels.length;
  const fit = fitFinal(data.train, k, s.params, s, hooks);
  const predictor: Predictor = s.threshold !== undefined && k === 2 ? { ...fit.predictor, threshold: s.threshold } : fit.predictor;
  const test = data.test && data.test.y.length > 0 ? computeMetrics(data.test.y, predict(predictor, data.test.X), data.labels) : null;
  return {
    predictor,
    params: s.params,
    gamma: fit.gamma,
    selection: preset.selection,
    estimate: preset.estimate,
    test,
    iterations: fit.iterations,
    capped: fit.capped,
    auto: preset.auto,
    estimateRoc: preset.estimateRoc,
  };
}
