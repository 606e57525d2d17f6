import { evaluateCnn, type CnnModel } from './cnn/cnn_model.ts';
import type { Evaluation } from './evaluation.ts';
import { evaluateKnn, type KnnModel } from './knn.ts';
import type { Matrix } from './linalg.ts';
import { transform, type Scaler } from './scaler.ts';
import { evaluateSvm, type SvmModel } from './svm.ts';

/** A fitted classifier: SVM (with its settings, for the record), KNN, or the CNN (on the active tfjs backend). */
export type ClassifierModel =
  | { type: 'svm'; C: number; classWeight: number[] | null; model: SvmModel }
  | { type: 'knn'; model: KnnModel }
  | { type: 'cnn'; model: CnnModel };

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

/** Class 1 where its score (column 1 of m x 2 scores) is above the threshold. */
export function applyThreshold(scores: Float64Array, threshold: number): Int32Array {
  const m = scores.length / 2;
  return Int32Array.from({ length: m }, (_, i) => (scores[i * 2 + 1]! > threshold ? 1 : 0));
}

export function evaluateClassifier(c: ClassifierModel, standardised: Matrix): Evaluation {
  if (c.type === 'cnn') return evaluateCnn(c.model, standardised);
  return c.type === 'svm' ? evaluateSvm(c.model, standardised) : evaluateKnn(c.model, standardised);
}

/** Predictions for raw feature vectors (rows of X, in the spec's layout). */
export function predict(p: Predictor, X: Matrix): Evaluation {
  const e = evaluateClassifier(p.classifier, transform(p.scaler, X));
  return p.threshold !== undefined && e.k === 2 ? { ...e, predicted: applyThreshold(e.scores, p.threshold) } : e;
}
