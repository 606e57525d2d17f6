import type { FeatureName } from '../features/spec.ts';
import { evaluateCnn, type CnnModel } from './cnn/cnn_model.ts';
import { argmaxRow, type Evaluation } from './evaluation.ts';
import { takeColumns } from './feature_columns.ts';
import { evaluateKnn, type KnnModel } from './knn.ts';
import type { Matrix } from './linalg.ts';
import { probabilityOfDecision } from './platt.ts';
import { transform, type Scaler } from './scaler.ts';
import { evaluateSvm, type SvmModel } from './svm.ts';

/** A classifier of one kind: SVM (with its settings, for the record), KNN, or the CNN (on the active tfjs backend). */
export type SingleModel =
  | { type: 'svm'; C: number; classWeight: number[] | null; model: SvmModel }
  | { type: 'knn'; model: KnnModel }
  | { type: 'cnn'; model: CnnModel };

/** One member of an ensemble: the features it reads, their columns of the (standardised) vector, and its classifier. */
export interface EnsembleMember {
  features: FeatureName[];
  columns: Int32Array;
  classifier: SingleModel;
  /** Its share of the mean (1 where absent: equal shares), so that --auto can weigh a feature model against several CNNs. */
  weight?: number;
}

/** A fitted classifier: one kind, or an ensemble that averages its members' class probabilities. */
export type ClassifierModel = SingleModel | { type: 'ensemble'; members: EnsembleMember[] };

/** What classifies raw feature vectors: the training data's scaler, then the classifier. */
export interface Predictor {
  scaler: Scaler;
  classifier: ClassifierModel;
  /**
   * Two classes only: class 1 iff its score is above this (chosen on validation by --auto);
   * absent, the classifier's own rule (SVM votes, KNN's largest vote share) decides.
   */
  threshold?: number | undefined;
}

/** The CNNs a classifier runs (alone or in an ensemble): what needs the tfjs backend, and what to release. */
export const cnnModels = (c: ClassifierModel): CnnModel[] =>
  c.type === 'cnn' ? [c.model] : c.type === 'ensemble' ? c.members.flatMap((m) => (m.classifier.type === 'cnn' ? [m.classifier.model] : [])) : [];

/**
 * An ensemble over one vector of `length` columns with one scaler: the feature member's own
 * scaler on its columns, none on the rest (the pixels: each CNN normalises its own input).
 */
export function ensembleWithFeatureScaler(length: number, featureMember: EnsembleMember, featureScaler: Scaler, others: EnsembleMember[]): Predictor {
  const mean = new Float64Array(length);
  const scale = new Float64Array(length).fill(1);
  featureMember.columns.forEach((c, j) => {
    mean[c] = featureScaler.mean[j]!;
    scale[c] = featureScaler.scale[j]!;
  });
  return { scaler: { mean, scale }, classifier: { type: 'ensemble', members: [featureMember, ...others] } };
}

/** Class 1 where its score (column 1 of m x 2 scores) is above the threshold. */
export function applyThreshold(scores: Float64Array, threshold: number): Int32Array {
  const m = scores.length / 2;
  return Int32Array.from({ length: m }, (_, i) => (scores[i * 2 + 1]! > threshold ? 1 : 0));
}

/**
 * Class probabilities (rows of k) averaged by weight, as an ensemble combines its members';
 * the scores are those averages and the label the largest. A weight of 1 multiplies exactly:
 * files without weights keep their bits.
 */
export function weightedMeanProbabilities(parts: readonly { probabilities: Float64Array; weight: number }[], k: number): Evaluation {
  const sum = new Float64Array(parts[0]!.probabilities.length);
  let total = 0;
  for (const { probabilities, weight } of parts) {
    total += weight;
    for (let i = 0; i < sum.length; i++) sum[i]! += weight * probabilities[i]!;
  }
  const mean = Float64Array.from(sum, (v) => v / total);
  const n = mean.length / k;
  return { k, predicted: Int32Array.from({ length: n }, (_, i) => argmaxRow(mean, i, k)), scores: mean, probabilities: mean };
}

/** The members' class probabilities, averaged by their weights (equal where none is given). */
function evaluateEnsemble(members: EnsembleMember[], standardised: Matrix): Evaluation {
  let k = 0;
  const parts = members.map((m) => {
    const e = evaluateClassifier(m.classifier, takeColumns(standardised, m.columns));
    if (!e.probabilities) throw new Error('an ensemble member gives no probabilities (an SVM without Platt sigmoids)');
    k = e.k;
    return { probabilities: e.probabilities, weight: m.weight ?? 1 };
  });
  return weightedMeanProbabilities(parts, k);
}

export function evaluateClassifier(c: ClassifierModel, standardised: Matrix): Evaluation {
  if (c.type === 'ensemble') return evaluateEnsemble(c.members, standardised);
  if (c.type === 'cnn') return evaluateCnn(c.model, standardised);
  return c.type === 'svm' ? evaluateSvm(c.model, standardised) : evaluateKnn(c.model, standardised);
}

/**
 * Class 1's probability where its score equals the threshold: the SVM's Platt sigmoid at that
 * decision value; KNN vote shares, the CNN's and an ensemble's outputs are probabilities
 * already. Null where the model has no probabilities, or where Platt's sigmoid falls as
 * class 1's score rises (A >= 0: a model no better than chance on its own folds), so that
 * no shift of the probabilities can agree with the label.
 */
export function probabilityAtThreshold(c: ClassifierModel, threshold: number): number | null {
  if (c.type !== 'svm') return threshold;
  const { probA, probB } = c.model;
  if (!probA || !probB || !(probA[0]! < 0)) return null;
  // class 1's score is minus the decision value of the pair (0, 1); class 0's probability is the sigmoid of it
  return 1 - probabilityOfDecision(-threshold, probA[0]!, probB[0]!);
}

/**
 * Two classes' probabilities moved so that the threshold's probability p* becomes one half:
 * the odds of class 1 divided by p*'s odds (a change of prior, in Bayes's terms). The order
 * of the images is kept (AUC is unchanged) and the larger shown probability is the label.
 */
export function shiftProbabilities(probabilities: Float64Array, atThreshold: number): Float64Array {
  const t = Math.min(Math.max(atThreshold, 1e-12), 1 - 1e-12);
  const out = new Float64Array(probabilities.length);
  for (let i = 0; i < out.length; i += 2) {
    const p = probabilities[i + 1]!;
    const a = p * (1 - t);
    const b = (1 - p) * t;
    const q = a + b > 0 ? a / (a + b) : p;
    out[i + 1] = q;
    out[i] = 1 - q;
  }
  return out;
}

/**
 * Predictions for raw feature vectors (rows of X, in the spec's layout). With a threshold
 * (two classes), the label is class 1 iff its score is above it, and the probabilities are
 * shifted (shiftProbabilities) so that the label is also the more probable class; where no
 * shift can do that (probabilityAtThreshold is null) there are none, and shownScores shows
 * the scores centred on the threshold. The ranking scores are left as they are.
 */
export function predict(p: Predictor, X: Matrix): Evaluation {
  const e = evaluateClassifier(p.classifier, transform(p.scaler, X));
  if (p.threshold === undefined || e.k !== 2) return e;
  const at = e.probabilities ? probabilityAtThreshold(p.classifier, p.threshold) : null;
  return { ...e, predicted: applyThreshold(e.scores, p.threshold), probabilities: e.probabilities && at !== null ? shiftProbabilities(e.probabilities, at) : null };
}

/**
 * The per-class values a user is shown: the probabilities where the model has them, else its
 * scores; an SVM's decision values without probabilities are centred on the threshold, so
 * that the label is the largest value there too.
 */
export function shownScores(p: Predictor, e: Evaluation): Float64Array {
  if (e.probabilities) return e.probabilities;
  if (p.threshold === undefined || e.k !== 2) return e.scores;
  const t = p.threshold;
  return Float64Array.from(e.scores, (v, i) => (i % 2 === 1 ? v - t : v + t));
}
