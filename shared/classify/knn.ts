import { argmaxRow, type Evaluation } from './evaluation.ts';
import { crossProduct, squaredNorms, type Matrix } from './linalg.ts';

export type KnnMetric = 'euclidean' | 'cosine';
export type KnnWeights = 'uniform' | 'distance';

/** A k-nearest-neighbours model: the standardised training set itself. */
export interface KnnModel {
  k: number;
  metric: KnnMetric;
  weights: KnnWeights;
  nClasses: number;
  samples: Matrix;
  targets: Int32Array;
}

/**
 * Distances (m x n) from the dot products of each sample pair and the squared norms:
 * euclidean sqrt(|a|^2 + |b|^2 - 2 a.b) (clamped at 0), cosine 1 - a.b / (|a| |b|) with a
 * zero vector at distance 1 from everything, as scikit-learn's.
 */
export function distancesFromDots(dots: Float64Array, sqA: Float64Array, sqB: Float64Array, metric: KnnMetric): Float64Array {
  const m = sqA.length;
  const n = sqB.length;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const ab = dots[i * n + j]!;
      if (metric === 'euclidean') out[i * n + j] = Math.sqrt(Math.max(0, sqA[i]! + sqB[j]! - 2 * ab));
      else {
        const norm = Math.sqrt(sqA[i]!) * Math.sqrt(sqB[j]!);
        out[i * n + j] = 1 - (norm > 0 ? ab / norm : 0);
      }
    }
  }
  return out;
}

/**
 * Votes of the k nearest of `candidates` (column indices of dist) for each row of dist
 * listed in `rows`. Equal distances are ordered by candidate position, so the result does
 * not depend on anything but the data. Returns vote fractions (m x classes).
 */
export function neighbourVotes(
  dist: Float64Array,
  ld: number,
  rows: ArrayLike<number>,
  candidates: ArrayLike<number>,
  targets: ArrayLike<number>,
  nClasses: number,
  k: number,
  weights: KnnWeights,
): Float64Array {
  const m = rows.length;
  const kk = Math.min(k, candidates.length);
  const out = new Float64Array(m * nClasses);
  const bestD = new Float64Array(kk);
  const bestT = new Int32Array(kk);
  for (let r = 0; r < m; r++) {
    const base = rows[r]! * ld;
    let filled = 0;
    for (let c = 0; c < candidates.length; c++) {
      const d = dist[base + candidates[c]!]!;
      if (filled === kk && !(d < bestD[kk - 1]!)) continue;
      let pos = filled < kk ? filled++ : kk - 1;
      while (pos > 0 && bestD[pos - 1]! > d) {
        bestD[pos] = bestD[pos - 1]!;
        bestT[pos] = bestT[pos - 1]!;
        pos--;
      }
      bestD[pos] = d;
      bestT[pos] = targets[candidates[c]!]!;
    }
    const o = r * nClasses;
    if (weights === 'uniform') {
      for (let t = 0; t < kk; t++) out[o + bestT[t]!]! += 1;
    } else {
      // 1/d; where some neighbours are at distance 0, only they count (scikit-learn's rule).
      let exact = false;
      for (let t = 0; t < kk; t++) if (bestD[t] === 0) exact = true;
      for (let t = 0; t < kk; t++) out[o + bestT[t]!]! += exact ? (bestD[t] === 0 ? 1 : 0) : 1 / bestD[t]!;
    }
    let total = 0;
    for (let c = 0; c < nClasses; c++) total += out[o + c]!;
    for (let c = 0; c < nClasses; c++) out[o + c]! /= total;
  }
  return out;
}

export function evaluateKnn(model: KnnModel, X: Matrix): Evaluation {
  const n = model.samples.rows;
  const dots = crossProduct(X, model.samples);
  const dist = distancesFromDots(dots, squaredNorms(X), squaredNorms(model.samples), model.metric);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const rows = Int32Array.from({ length: X.rows }, (_, i) => i);
  const fractions = neighbourVotes(dist, n, rows, all, model.targets, model.nClasses, model.k, model.weights);
  const predicted = Int32Array.from({ length: X.rows }, (_, i) => argmaxRow(fractions, i, model.nClasses));
  return { k: model.nClasses, predicted, scores: fractions, probabilities: fractions };
}
