import { applyThreshold, ensembleWithFeatureScaler, predict, weightedMeanProbabilities, type Predictor, type SingleModel } from '../../shared/classify/classifier.ts';
import { DEFAULT_CNN_PARAMS } from '../../shared/classify/cnn/train_model.ts';
import { countLabels, type Counts } from '../../shared/classify/dataset.ts';
import type { Evaluation } from '../../shared/classify/evaluation.ts';
import { featureColumns, restrictSpec } from '../../shared/classify/feature_columns.ts';
import { takeRows, type Matrix } from '../../shared/classify/linalg.ts';
import { stratifiedFolds } from '../../shared/classify/cv.ts';
import { accuracy, balancedAccuracy, classAucs, computeMetrics } from '../../shared/classify/metrics.ts';
import { buildModelDocument, serializeModel, trainingContentHash } from '../../shared/classify/model.ts';
import type { CandidateParams, CnnParams, EnsembleParams } from '../../shared/classify/params.ts';
import { rocCurves } from '../../shared/classify/roc.ts';
import { fitFinal, type AutoSummary, type JsonValue, type LabelledSet, type TrainOutcome, type TrainSettings } from '../../shared/classify/train.ts';
import { FEATURE_NAMES, type FeatureName, type FeatureSpec } from '../../shared/features/spec.ts';
import { useCnnBackend } from '../features/backend.ts';
import { DEFAULT_RANK_BY, pool, type AutoOptions, type CnnPlan } from './auto_model.ts';
import type { EpochHook, FitOutput } from './fit.ts';
import { fitOnWorker } from './fit_on_worker.ts';

/**
 * --auto's last round: CNNs on the images (up to five, one per fold of train/, their class
 * probabilities averaged), and the ensemble of those with the best feature model, against
 * the best feature model.
 *
 * The three finalists are compared as the feature candidates were, by cross-validation of
 * train/: member i trains on four fifths of train/ and keeps the epoch with the lowest loss on
 * fold i; the feature model (its chosen settings) and the ensemble's feature member are fitted
 * on the same four fifths; each finalist then classifies fold i, and the folds of the members
 * trained are pooled. (A fold that chose its member's epoch favours the CNN a little; one CNN
 * stands in for the members' mean, which disfavours it.) BreastMNIST's 78 val/ images, the
 * split that compared them before, ranked a 64-px feature model first by AUC (0.911 there,
 * 0.863 in cross-validation, 0.862 on test) ahead of an ensemble that scored 0.90 on test:
 * too few images to tell finalists apart, and the search itself ranks on train/ only.
 * val/ still chooses the feature model's class weights and threshold, and its figures are
 * reported beside. The CNNs' and the ensemble's two-class threshold comes from Bayes's rule
 * (bayesThreshold). The best by AUC then the measure (or the measure then AUC, --rank-by
 * balanced) wins; on a tie the simpler one (features, then the CNNs, then the ensemble).
 * What was compared is what ships, trained on all of train/.
 */

type CnnClassifier = Extract<SingleModel, { type: 'cnn' }>;

const countsOf = (y: Int32Array, labels: string[]): Counts => countLabels(Array.from(y, (c) => labels[c]!), labels);

/** The CNN's early stopping watches one fold of this many of train/. */
const EARLY_STOP_FOLDS = 5;
/** Kept after the CNN for its val and test predictions and the model document. */
const ASSEMBLY_MS = 10_000;
/** Fewer milliseconds than this left for the CNN: not started. */
const CNN_MIN_LEFT_MS = 30_000;
/** CNN members by default (one per fold of train/, as many as the budget allows). */
export const CNN_MEMBERS = 5;

/**
 * --auto's CNN members: `--classifier cnn`'s defaults (DEFAULT_CNN_PARAMS) with 60 epochs, not
 * 30, so the cosine schedule decays over twice the steps (every epoch runs; the fold's lowest
 * loss is kept). Of the variants tried on BreastMNIST's folds out of fold (README, "Stronger CNN
 * members"), the only clear gain: the members' AUC 0.849 -> 0.872, the ensemble's 0.879 ->
 * 0.891 (paired bootstrap SE 0.007 and 0.004); wider stages, two blocks a stage, label
 * smoothing and mixup were within the noise or worse. The step cap (maxSteps) still bounds the
 * cost on larger sets: a RetinaMNIST member (864 images) runs 43 epochs. Not `--classifier cnn`'s
 * default: that one stops early (patience 8), a setting not measured with 60.
 */
export const AUTO_CNN_PARAMS: Readonly<CnnParams> = Object.freeze({ ...DEFAULT_CNN_PARAMS, epochs: 60 });

/** One split's vectors: the feature winner's columns, the CNN's pixels, both (the ensemble's spec), and the labels. */
export interface CnnRoundSplit {
  features: Matrix;
  pixels: Matrix;
  /** The ensemble's feature member's columns at the CNN's size, then all of its vector (those and the pixels). */
  member: Matrix;
  union: Matrix;
  y: Int32Array;
}

/** A fitted feature model that can join the CNN in an ensemble. */
export interface EnsembleMemberFit {
  features: FeatureName[];
  predictor: Predictor;
  params: EnsembleParams['members'][number];
  gamma: number | null;
  iterations: number[];
  capped: number;
  /** The candidate in words, for the report. */
  label: string;
}

export interface CnnRoundInput {
  labels: string[];
  plan: CnnPlan;
  /** The spec extracted at the CNN's size (every family tried there, and the pixels). */
  sizeSpec: FeatureSpec;
  /** The decoded size of the images at the CNN's size. */
  dims: { height: number; width: number };
  /** The feature winner: its features, size and final fit (on train/). */
  winner: { features: FeatureName[]; size: number; fit: FitOutput; spec: FeatureSpec };
  /** The ensemble's feature member where it is not the winner (the winner is at another size than the CNN's). */
  member?: EnsembleMemberFit | undefined;
  train: CnnRoundSplit;
  /** val/, where there is one: its figures are reported beside the comparison's, and it is the chosen model's estimate. */
  val?: CnnRoundSplit | undefined;
  test?: CnnRoundSplit | undefined;
  settings: TrainSettings;
  options: AutoOptions;
  /** Milliseconds left of the whole budget. */
  leftMs: number;
  signal?: AbortSignal | undefined;
  progress?: (done: number, total: number) => void;
  onEpoch?: EpochHook | undefined;
}

export interface CnnRoundOutcome {
  /** The report's record of the round. */
  summary: JsonValue;
  /** The new final model where the CNN or the ensemble won; null: the feature model stays. */
  final: { fit: FitOutput; spec: FeatureSpec; featureLength: number; imageSize: { width: number; height: number } | null; X: { train: Matrix; val?: Matrix | undefined; test?: Matrix | undefined } } | null;
}

const r3 = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);

/** A finalist's figures on some images: the measure at its threshold, and AUC. */
interface Scored {
  score: number;
  auc: number | null;
}

interface Finalist {
  name: 'features' | 'CNN' | 'ensemble';
  predictor: Predictor;
  threshold: number | null;
  /** Out of fold on train/: the ranking's figures, and the pooled evaluation behind them. */
  cv: Scored & { e: Evaluation };
  val: Scored | null;
}

/** The feature model's weights in the ensemble tried (the CNNs share the rest). */
const ENSEMBLE_WEIGHTS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/** The feature member's and a CNN's probabilities, the first weighted `weight` and the second the rest, as the ensemble combines them. */
function mixed(feature: Evaluation, cnn: Evaluation, weight: number): Evaluation {
  if (!feature.probabilities || !cnn.probabilities) throw new Error('an ensemble member gives no probabilities');
  return weightedMeanProbabilities(
    [
      { probabilities: feature.probabilities, weight },
      { probabilities: cnn.probabilities, weight: 1 - weight },
    ],
    feature.k,
  );
}

/** The CNN and the ensemble against the feature winner, by cross-validation of train/; the winner's model document where it is not the feature model. */
export async function cnnRound(input: CnnRoundInput): Promise<CnnRoundOutcome> {
  const { labels, plan, settings, options } = input;
  const k = labels.length;
  const base = { size: plan.size, input: plan.feature };
  const budgetMs = input.leftMs - ASSEMBLY_MS;
  if (budgetMs < CNN_MIN_LEFT_MS) return { summary: { ...base, skipped: `the budget was spent (${Math.max(0, Math.round(input.leftMs / 1000))} s left)` }, final: null };

  const params: CnnParams = options.cnnParams ?? { ...AUTO_CNN_PARAMS };
  const pixelSpec = restrictSpec(input.sizeSpec, [plan.feature]);
  const imageSize = plan.size === 0 ? { width: input.dims.width, height: input.dims.height } : null;
  const h = input.dims.height;
  const w = input.dims.width;
  const pixelColumns = featureColumns(pixelSpec, [plan.feature], h, w);

  // The ensemble needs the feature model's probabilities and one spec for both (the same size):
  // the winner, or where it is at another size the best candidate at the CNN's (one model file extracts at one size).
  const featurePredictor = input.winner.fit.outcome.predictor;
  const featureOutcome = input.winner.fit.outcome;
  const member: EnsembleMemberFit | null =
    input.member ??
    (input.winner.size === plan.size
      ? { features: input.winner.features, predictor: featurePredictor, params: featureOutcome.params as EnsembleMemberFit['params'], gamma: featureOutcome.gamma, iterations: featureOutcome.iterations, capped: featureOutcome.capped, label: 'the feature model' }
      : null);
  let ensembleSkipped: string | null = null;
  const fc = member?.predictor.classifier;
  if (!member || !fc) ensembleSkipped = `the best feature model is at size ${input.winner.size || 'kept'}, the CNN at ${plan.size || 'the kept size'}, and no feature candidate was scored there`;
  else if (fc.type === 'ensemble' || fc.type === 'cnn' || (fc.type === 'svm' && !fc.model.probA)) ensembleSkipped = 'the feature model gives no probabilities to average';
  const unionSpec = member && !ensembleSkipped ? restrictSpec(input.sizeSpec, [...member.features, plan.feature]) : null;
  const memberFeatures = member ? FEATURE_NAMES.filter((f) => member.features.includes(f)) : [];
  const featureCols = unionSpec ? featureColumns(unionSpec, member!.features, h, w) : null;
  const pixelCols = unionSpec ? featureColumns(unionSpec, [plan.feature], h, w) : null;
  if (featureCols && pixelCols && featureCols.length + pixelCols.length !== input.train.union.cols) throw new Error('the ensemble columns do not cover its vector');
  // the feature model's share of the mean is `weight`; the CNNs share the rest equally
  const ensembleOf = (feature: Predictor, nets: CnnClassifier[], weight: number): Predictor =>
    ensembleWithFeatureScaler(
      input.train.union.cols,
      { features: memberFeatures, columns: featureCols!, classifier: feature.classifier as SingleModel, weight },
      feature.scaler,
      nets.map((c) => ({ features: [plan.feature], columns: pixelCols!, classifier: c, weight: (1 - weight) / nets.length })),
    );

  // Each CNN member trains on four fifths of train/ and keeps the epoch with the lowest loss on
  // the other (stratified) fifth (a tenth, 55 BreastMNIST images, stopped it at epoch 1 by noise),
  // member i on fold i: together they have seen every training image.
  const folds = stratifiedFolds(input.train.y, k, EARLY_STOP_FOLDS, settings.seed);
  const part = (rows: Int32Array): LabelledSet => ({ X: takeRows(input.train.pixels, rows), y: Int32Array.from(rows, (i) => input.train.y[i]!) });
  const foldFit = (X: Matrix, rows: Int32Array, p: CandidateParams, probability: boolean): Predictor =>
    fitFinal({ X: takeRows(X, rows), y: Int32Array.from(rows, (i) => input.train.y[i]!) }, k, p, { ...settings, params: p, probability, threshold: undefined, auto: false }).predictor;
  const untuned = (p: Predictor): Predictor => ({ scaler: p.scaler, classifier: p.classifier });
  await useCnnBackend();
  const started = performance.now();
  const maxMembers = Math.max(1, Math.min(options.cnnMembers ?? CNN_MEMBERS, EARLY_STOP_FOLDS));
  // One after another, not side by side: two on this 2-core server under load each ran at half
  // speed and the budget cut both (RetinaMNIST: 16 of 30 epochs); the first member is the CNN
  // --auto trained alone before, and each later one starts only where it (and its fold's
  // feature fits) would end in time.
  const fits: { fold: number; fit: FitOutput; ms: number; out: { features: Evaluation; cnn: Evaluation; member: Evaluation | null } }[] = [];
  let stopped: string | null = null;
  for (let f = 0; f < maxMembers; f++) {
    const left = budgetMs - (performance.now() - started);
    const last = fits.at(-1)?.ms ?? 0;
    if (f > 0 && left < last * 1.1) {
      stopped = `${fits.length} of ${maxMembers} members: another would not finish in the budget (${Math.round(left / 1000)} s left, the last took ${Math.round(last / 1000)} s)`;
      break;
    }
    const split = folds[f]!;
    const m0 = performance.now();
    const fit = await fitOnWorker(
      {
        spec: pixelSpec,
        labels,
        featureLength: input.train.pixels.cols,
        imageSize,
        train: part(split.train),
        val: part(split.test),
        settings: { ...settings, seed: settings.seed + f, auto: false, params, classWeight: options.classWeight ?? null, threshold: undefined },
        counts: countsOf(input.train.y, labels),
        createdAt: new Date().toISOString(),
        cnnBudgetMs: Math.max(1, left),
        cnnTraining: { patience: params.epochs },
      },
      (_stage, d, total) => input.progress?.(d, total),
      input.signal,
      // the live curves are the first member's
      f === 0 ? input.onEpoch : undefined,
    );
    // fold f out of fold: the feature model as chosen and the ensemble's feature member, fitted on
    // the member's rows; one fit, with Platt's probabilities, where that member is the feature
    // model itself (its scores are the same with or without them)
    const held = split.test;
    const ensembled = unionSpec !== null && member !== null;
    const own = ensembled && !input.member;
    const features = predict(foldFit(input.train.features, split.train, featureOutcome.params, own), takeRows(input.train.features, held));
    const cnn = predict(fit.outcome.predictor, takeRows(input.train.pixels, held));
    const memberFold = own ? features : ensembled ? predict(foldFit(input.train.member, split.train, member!.params, true), takeRows(input.train.member, held)) : null;
    fits.push({ fold: f, fit, ms: performance.now() - m0, out: { features, cnn, member: memberFold } });
  }
  const cnnMs = performance.now() - started;
  const nets = fits.map(({ fit }) => {
    const c = fit.outcome.predictor.classifier;
    if (c.type !== 'cnn') throw new Error('the CNN candidate came back as another classifier');
    return c;
  });
  const net = nets[0]!;
  // One member: the CNN alone; more: their probabilities averaged (an ensemble of CNNs, format 3).
  const cnnPredictor: Predictor =
    nets.length === 1
      ? fits[0]!.fit.outcome.predictor
      : {
          scaler: { mean: new Float64Array(input.train.pixels.cols), scale: new Float64Array(input.train.pixels.cols).fill(1) },
          classifier: { type: 'ensemble', members: nets.map((c) => ({ features: [plan.feature], columns: pixelColumns, classifier: c })) },
        };

  const by = options.operatingPoint ?? 'balanced';
  const measure = (t: Int32Array, p: Int32Array) => (by === 'accuracy' ? accuracy(t, p) : balancedAccuracy(t, p, k));
  // the members' folds, pooled in fold order
  const cvFolds = fits.map(({ fold }) => folds[fold]!);
  const pooled = (evals: Evaluation[]) => pool(cvFolds, evals, input.train.y, k);
  const cvTruth = pooled(fits.map((m) => m.out.cnn)).truth;
  const featureThreshold = featurePredictor.threshold ?? null;
  // Two classes: the CNN's and the ensemble's threshold is not fitted to val/ (78 BreastMNIST images
  // overfit it) but set by Bayes's rule for their probabilities, which learnt train/'s prior.
  const operatingThreshold = k === 2 ? bayesThreshold(input.train.y, by, options.classWeight === 'balanced') : null;
  const atThreshold = (e: Evaluation, threshold: number | null): Evaluation => (k === 2 && threshold !== null ? { ...e, predicted: applyThreshold(e.scores, threshold) } : e);
  const perFold = (e: Evaluation): number[] => {
    let o = 0;
    return cvFolds.map(({ test }) => {
      const n = test.length;
      o += n;
      return balancedAccuracy(cvTruth.subarray(o - n, o), e.predicted.subarray(o - n, o), k);
    });
  };
  const scored = (truth: Int32Array, e: Evaluation): Scored => ({ score: measure(truth, e.predicted), auc: classAucs(truth, e.scores, k).auc });
  const finalist = (name: Finalist['name'], predictor: Predictor, folded: Evaluation[], val: { X: Matrix; truth: Int32Array } | null): Finalist => {
    const threshold = name === 'features' ? featureThreshold : operatingThreshold === 0.5 ? null : operatingThreshold;
    const e = atThreshold(pooled(folded).e, threshold);
    return { name, predictor, threshold, cv: { ...scored(cvTruth, e), e }, val: val ? scored(val.truth, atThreshold(predict(untuned(predictor), val.X), threshold)) : null };
  };
  const onVal = (X: (s: CnnRoundSplit) => Matrix) => (input.val && input.val.y.length > 0 ? { X: X(input.val), truth: input.val.y } : null);
  const finalists: Finalist[] = [
    finalist('features', featurePredictor, fits.map((m) => m.out.features), onVal((s) => s.features)),
    finalist('CNN', cnnPredictor, fits.map((m) => m.out.cnn), onVal((s) => s.pixels)),
  ];
  // ranked as the search ranks (--rank-by): the measure then AUC, or AUC then the measure
  const byAuc = (options.rankBy ?? DEFAULT_RANK_BY) === 'auc';
  const key = (f: Scored): [number, number] => (byAuc ? [f.auc ?? -1, f.score] : [f.score, f.auc ?? -1]);
  const ahead = (a: Scored, b: Scored): boolean => {
    const [a1, a2] = key(a);
    const [b1, b2] = key(b);
    return a1 > b1 + 1e-12 || (Math.abs(a1 - b1) <= 1e-12 && a2 > b2);
  };

  // The ensemble's weight of the feature model against the CNNs' mean, chosen out of fold as the
  // finalists are (one CNN per fold stands in for their mean); equal weights per member gave the
  // feature model, a different view of the image, a sixth beside five CNNs.
  let weights: { weight: number; cv: Scored }[] = [];
  let ensembleWeight = 0.5;
  if (unionSpec && member) {
    const threshold = operatingThreshold === 0.5 ? null : operatingThreshold;
    weights = ENSEMBLE_WEIGHTS.map((weight) => ({ weight, cv: scored(cvTruth, atThreshold(pooled(fits.map((m) => mixed(m.out.member!, m.out.cnn, weight))).e, threshold)) }));
    let chosen = weights[0]!;
    for (const t of weights.slice(1)) if (ahead(t.cv, chosen.cv) || (!ahead(chosen.cv, t.cv) && Math.abs(t.weight - 0.5) < Math.abs(chosen.weight - 0.5))) chosen = t;
    ensembleWeight = chosen.weight;
    finalists.push(finalist('ensemble', ensembleOf(member.predictor, nets, ensembleWeight), fits.map((m) => mixed(m.out.member!, m.out.cnn, ensembleWeight)), onVal((s) => s.union)));
  }

  let best = finalists[0]!;
  for (const f of finalists.slice(1)) if (ahead(f.cv, best.cv)) best = f;
  const hasVal = finalists[0]!.val !== null;
  const summary: JsonValue = {
    ...base,
    on: `out of fold on train/ (${fits.length} of ${EARLY_STOP_FOLDS} folds, ${cvTruth.length} images)`,
    ...(hasVal ? { alsoOn: 'val/' } : {}),
    by: `${byAuc ? 'AUC, then ' : ''}${by === 'accuracy' ? 'accuracy' : 'balanced accuracy'}`,
    params: {
      epochs: params.epochs,
      widths: params.widths,
      ...(params.blocks ? { blocks: params.blocks } : {}),
      ...(params.labelSmoothing ? { labelSmoothing: params.labelSmoothing } : {}),
      ...(params.mixup ? { mixup: params.mixup } : {}),
      augment: params.augment,
      flip: params.flip,
    },
    earlyStopping: `member i: the stratified fifth i of train/ (${folds[0]!.test.length} images), every epoch run, the lowest loss kept`,
    epochs: net.model.history.length,
    bestEpoch: net.model.bestEpoch,
    members: fits.map(({ fold, ms }, i) => ({ fold, seed: settings.seed + fold, epochs: nets[i]!.model.history.length, bestEpoch: nets[i]!.model.bestEpoch, ms: Math.round(ms) })),
    ...(stopped ? { membersStopped: stopped } : {}),
    ms: Math.round(cnnMs),
    budgetMs: Math.round(budgetMs),
    ...(operatingThreshold !== null ? { threshold: `${r3(operatingThreshold)} on class 1's probability for the CNN and the ensemble, by Bayes's rule for ${by === 'accuracy' ? 'accuracy' : 'balanced accuracy'} (train/'s prior), not fitted` } : {}),
    compared: finalists.map((f) => ({ candidate: f.name, score: r3(f.cv.score), auc: r3(f.cv.auc), threshold: f.threshold, ...(f.val ? { val: { score: r3(f.val.score), auc: r3(f.val.auc) } } : {}) })),
    ...(ensembleSkipped ? { ensembleSkipped } : {}),
    ...(input.member && !ensembleSkipped ? { ensembleMember: input.member.label } : {}),
    ...(weights.length ? { ensembleWeight: { chosen: ensembleWeight, tried: weights.map((t) => ({ weight: t.weight, score: r3(t.cv.score), auc: r3(t.cv.auc) })) } } : {}),
    chosen: best.name,
  };
  if (best.name === 'features') return { summary, final: null };

  // The new final model: the CNN alone (its spec the pixels) or the ensemble (the union of the specs).
  const isEnsemble = best.name === 'ensemble';
  const spec = isEnsemble ? unionSpec! : pixelSpec;
  const pick = (s: CnnRoundSplit) => (isEnsemble ? s.union : s.pixels);
  const predictor: Predictor = best.threshold !== null ? { ...best.predictor, threshold: best.threshold } : untuned(best.predictor);
  // the estimate: on val/ where there is one (the final model), else the comparison's folds
  const valPredicted = hasVal ? predict(predictor, pick(input.val!)) : null;
  const estimateTruth = valPredicted ? input.val!.y : cvTruth;
  const estimateE = valPredicted ?? best.cv.e;
  const estimate = computeMetrics(estimateTruth, estimateE, labels);
  const test = input.test && input.test.y.length > 0 ? predict(predictor, pick(input.test)) : null;
  const cnnParams = nets.map(() => params);
  const params2: EnsembleParams | CnnParams = isEnsemble ? { type: 'ensemble', members: [member!.params, ...cnnParams] } : nets.length > 1 ? { type: 'ensemble', members: cnnParams } : params;
  const auto: AutoSummary = { ...(featureOutcome.auto ?? {}), cnn: summary };
  const outcome: TrainOutcome = {
    predictor,
    params: params2,
    gamma: isEnsemble ? member!.gamma : null,
    selection: featureOutcome.selection,
    estimate: valPredicted
      ? { mode: 'validation', folds: 1, metrics: estimate, foldBalancedAccuracy: [balancedAccuracy(estimateTruth, estimateE.predicted, k)] }
      : { mode: 'cross-validation', folds: fits.length, metrics: estimate, foldBalancedAccuracy: perFold(best.cv.e) },
    test: test ? computeMetrics(input.test!.y, test, labels) : null,
    iterations: isEnsemble ? member!.iterations : fits[0]!.fit.outcome.iterations,
    capped: isEnsemble ? member!.capped : 0,
    auto,
    estimateRoc: rocCurves(estimateTruth, estimateE.scores, estimateE.predicted, labels, predictor.threshold ?? null),
  };
  const trainX = pick(input.train);
  const doc = buildModelDocument({
    spec,
    labels,
    featureLength: trainX.cols,
    imageSize,
    outcome,
    training: { size: input.train.y.length, counts: countsOf(input.train.y, labels), contentHash: trainingContentHash(trainX, input.train.y, labels), seed: settings.seed },
    createdAt: new Date(),
  });
  const testRoc = test ? rocCurves(input.test!.y, test.scores, test.predicted, labels, predictor.threshold ?? null) : null;
  return {
    summary,
    final: {
      fit: { outcome, doc, text: serializeModel(doc), testPredicted: test?.predicted ?? null, testRoc },
      spec,
      featureLength: trainX.cols,
      imageSize,
      X: { train: trainX, ...(input.val ? { val: pick(input.val) } : {}), ...(input.test ? { test: pick(input.test) } : {}) },
    },
  };
}

/**
 * The two-class threshold on class 1's probability that Bayes's rule gives for a measure, where
 * the probabilities learnt the training prior pi (share of class 1): for accuracy one half; for
 * balanced accuracy (each class's errors weighed by its size) pi itself. Where they learnt equal
 * priors (class weights 'balanced'): pi's complement for accuracy, one half for balanced accuracy.
 */
export function bayesThreshold(y: Int32Array, by: 'balanced' | 'accuracy', balancedWeights: boolean): number {
  let ones = 0;
  for (const c of y) ones += c === 1 ? 1 : 0;
  const pi = y.length > 0 ? ones / y.length : 0.5;
  if (by === 'accuracy') return balancedWeights ? 1 - pi : 0.5;
  return balancedWeights ? 0.5 : pi;
}

/** The round in a line of the report. */
export function cnnRoundLines(s: JsonValue | undefined): string[] {
  if (!s || typeof s !== 'object' || Array.isArray(s)) return [];
  const c = s as Record<string, JsonValue>;
  if (c['skipped']) return [`CNN: not tried: ${String(c['skipped'])}`];
  const members = c['members'] as { epochs: number; bestEpoch: number }[] | undefined;
  const weight = c['ensembleWeight'] as { chosen: number; tried: { weight: number }[] } | undefined;
  const weighs = weight ? `; the ensemble weighs the feature model ${weight.chosen} against the CNNs' mean (the best out of fold of ${weight.tried.map((t) => t.weight).join(', ')})` : '';
  const member = (c['ensembleMember'] ? ` (the ensemble's feature model: ${String(c['ensembleMember'])}, the best at the CNN's size)` : '') + weighs;
  const auc = (v: number | null) => (v === null ? '-' : v.toFixed(3));
  const compared = (c['compared'] as { candidate: string; score: number; auc: number | null; threshold: number | null; val?: { score: number; auc: number | null } }[]).map(
    (f) =>
      `${f.candidate} ${f.score.toFixed(3)} (AUC ${auc(f.auc)}${f.threshold === null ? '' : `, threshold ${Number(f.threshold.toPrecision(4))}`}${f.val ? `; ${String(c['alsoOn'])} ${f.val.score.toFixed(3)}, AUC ${auc(f.val.auc)}` : ''})`,
  );
  return [
    `${
      members && members.length > 1
        ? `CNN: ${members.length} members, one per fold of train/ (epochs run (kept): ${members.map((m) => `${m.epochs} (${m.bestEpoch})`).join(', ')}), their probabilities averaged,`
        : `CNN: ${String(c['epochs'])} epochs (kept ${String(c['bestEpoch'])})`
    } in ${((c['ms'] as number) / 1000).toFixed(0)} s of ${((c['budgetMs'] as number) / 1000).toFixed(0)} s, at ${c['size'] === 0 ? 'the kept size' : `size ${String(c['size'])}`} on ${String(c['input'])}${c['membersStopped'] ? `; ${String(c['membersStopped'])}` : ''}`,
    ...(c['threshold'] ? [`threshold: ${String(c['threshold'])}`] : []),
    `finalists ${String(c['on'])} by ${String(c['by'])}: ${compared.join('; ')}${c['ensembleSkipped'] ? `; ensemble not tried: ${String(c['ensembleSkipped'])}` : member}; chosen: ${String(c['chosen'])}`,
  ];
}
