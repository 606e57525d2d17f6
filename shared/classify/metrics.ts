import type { Evaluation } from './evaluation.ts';

/** Scores of one class: scikit-learn's classification_report row (0 where undefined). */
export interface ClassScores {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Metrics {
  n: number;
  labels: string[];
  accuracy: number;
  /** Mean recall over the classes present in the truth (scikit-learn's balanced_accuracy_score). */
  balancedAccuracy: number;
  /**
   * Two classes: ROC AUC of class 1's score (roc_auc_score). More: the mean of the
   * one-vs-rest AUCs of the classes present with positives and negatives. Null when none is.
   */
  auc: number | null;
  /** One-vs-rest AUC per class, null where the class (or all the rest) is absent. */
  aucPerClass: (number | null)[];
  /** confusion[true][predicted]. */
  confusion: number[][];
  perClass: ClassScores[];
}

export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  let ok = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) ok++;
  return yTrue.length ? ok / yTrue.length : 0;
}

export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, k: number): number[][] {
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) m[yTrue[i]!]![yPred[i]!]!++;
  return m;
}

export function balancedAccuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, k: number): number {
  const cm = confusionMatrix(yTrue, yPred, k);
  let sum = 0;
  let present = 0;
  for (let c = 0; c < k; c++) {
    const support = cm[c]!.reduce((a, b) => a + b, 0);
    if (support === 0) continue;
    sum += cm[c]![c]! / support;
    present++;
  }
  return present ? sum / present : 0;
}

/**
 * ROC AUC of scores for a binary truth, ties counted half (the Mann-Whitney statistic with
 * average ranks, equal to scikit-learn's trapezoidal roc_auc_score). Null without both classes.
 */
export function rocAuc(positive: ArrayLike<boolean>, scores: ArrayLike<number>): number | null {
  const n = scores.length;
  let nPos = 0;
  for (let i = 0; i < n; i++) if (positive[i]) nPos++;
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return null;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) if (positive[order[t]!]) rankSum += avgRank;
    i = j + 1;
  }
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** One-vs-rest AUC per class from per-class scores (m x k), and their summary as `Metrics.auc`. */
export function classAucs(yTrue: ArrayLike<number>, scores: Float64Array, k: number): { auc: number | null; perClass: (number | null)[] } {
  const m = yTrue.length;
  const perClass: (number | null)[] = [];
  for (let c = 0; c < k; c++) {
    const positive = Array.from({ length: m }, (_, i) => yTrue[i] === c);
    const s = Array.from({ length: m }, (_, i) => scores[i * k + c]!);
    perClass.push(rocAuc(positive, s));
  }
  if (k === 2) return { auc: perClass[1] ?? null, perClass };
  const defined = perClass.filter((a): a is number => a !== null);
  return { auc: defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : null, perClass };
}

export function classScores(cm: number[][], labels: string[]): ClassScores[] {
  const k = labels.length;
  return labels.map((label, c) => {
    const tp = cm[c]![c]!;
    const support = cm[c]!.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += cm[r]![c]!;
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
}

export function computeMetrics(yTrue: ArrayLike<number>, e: Evaluation, labels: string[]): Metrics {
  const k = labels.length;
  const cm = confusionMatrix(yTrue, e.predicted, k);
  const { auc, perClass } = classAucs(yTrue, e.scores, k);
  return {
    n: yTrue.length,
    labels,
    accuracy: accuracy(yTrue, e.predicted),
    balancedAccuracy: balancedAccuracy(yTrue, e.predicted, k),
    auc,
    aucPerClass: perClass,
    confusion: cm,
    perClass: classScores(cm, labels),
  };
}
