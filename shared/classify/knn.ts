import { argmaxRow, type Evaluation } from './evaluation.ts';
import { int16ScreenFor } from './knn_screen.ts';
import { cachedSquaredNorms, crossProductResident, squaredNorms, type Matrix } from './linalg.ts';

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
 * The distance of two samples from their dot product and squared norms: euclidean
 * sqrt(|a|^2 + |b|^2 - 2 a.b) (clamped at 0), cosine 1 - a.b / (|a| |b|) with a zero
 * vector at distance 1 from everything, as scikit-learn's.
 */
export function distanceOf(ab: number, sqA: number, sqB: number, metric: KnnMetric): number {
  if (metric === 'euclidean') return Math.sqrt(Math.max(0, sqA + sqB - 2 * ab));
  const norm = Math.sqrt(sqA) * Math.sqrt(sqB);
  return 1 - (norm > 0 ? ab / norm : 0);
}

/** Distances (m x n) from all dot products (m x n) and the squared norms. */
export function distancesFromDots(dots: Float64Array, sqA: Float64Array, sqB: Float64Array, metric: KnnMetric): Float64Array {
  const m = sqA.length;
  const n = sqB.length;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[i * n + j] = distanceOf(dots[i * n + j]!, sqA[i]!, sqB[j]!, metric);
  return out;
}

/** Scratch space for the k best of one row. */
interface Best {
  d: Float64Array;
  t: Int32Array;
}

/**
 * The vote fractions of one sample into out[o..o+classes): its k nearest among candidates
 * (distance dist[base + c] for candidate c), equal distances ordered by candidate position,
 * so the result depends on nothing but the data; 1/d weights where asked, and where some
 * neighbours are at distance 0 only they count (scikit-learn's rule).
 */
function voteRow(
  dist: Float64Array,
  base: number,
  candidates: ArrayLike<number>,
  count: number,
  targets: ArrayLike<number>,
  nClasses: number,
  kk: number,
  weights: KnnWeights,
  best: Best,
  out: Float64Array,
  o: number,
): void {
  const { d: bestD, t: bestT } = best;
  let filled = 0;
  for (let c = 0; c < count; c++) {
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
  if (weights === 'uniform') {
    for (let t = 0; t < kk; t++) out[o + bestT[t]!]! += 1;
  } else {
    let exact = false;
    for (let t = 0; t < kk; t++) if (bestD[t] === 0) exact = true;
    for (let t = 0; t < kk; t++) out[o + bestT[t]!]! += exact ? (bestD[t] === 0 ? 1 : 0) : 1 / bestD[t]!;
  }
  let total = 0;
  for (let c = 0; c < nClasses; c++) total += out[o + c]!;
  for (let c = 0; c < nClasses; c++) out[o + c]! /= total;
}

/**
 * Vote fractions (rows x classes) of the k nearest of `candidates` (column indices of
 * dist, ld wide) for each row of dist listed in `rows`.
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
  const kk = Math.min(k, candidates.length);
  const out = new Float64Array(rows.length * nClasses);
  const best = { d: new Float64Array(kk), t: new Int32Array(kk) };
  for (let r = 0; r < rows.length; r++) voteRow(dist, rows[r]! * ld, candidates, candidates.length, targets, nClasses, kk, weights, best, out, r * nClasses);
  return out;
}

/**
 * The same votes as the exact float64 distances give, from approximate ones: int16 products
 * with a rigorous error bound per pair (knn_screen.ts) screen the training samples, and only
 * those that could be among the k nearest get their exact distance. Every sample of the exact
 * k nearest (ties included) passes the screen, so the result is the same bits as
 * `neighbourVotes` over all distances. Null where WebAssembly SIMD is missing.
 */
function screenedVotes(model: KnnModel, X: Matrix, sqX: Float64Array, sqS: Float64Array): Float64Array | null {
  const screen = int16ScreenFor(model.samples, sqS);
  if (!screen) return null;
  const n = screen.n;
  const k = model.nClasses;
  const kk = Math.min(model.k, n);
  const out = new Float64Array(X.rows * k);
  const best = { d: new Float64Array(kk), t: new Int32Array(kk) };
  const exact = new Float64Array(n);
  const candidates = new Int32Array(n);
  const kthUpper = new Float64Array(kk);
  const cosine = model.metric === 'cosine';
  for (let r0 = 0; r0 < X.rows; ) {
    const rows = screen.load(X, r0);
    for (let b = 0; b < rows; b++) {
      const i = r0 + b;
      const sa = sqX[i]!;
      screen.row(b, sa, Math.sqrt(sa), cosine);
      const { lower, upper } = screen;
      // The kk smallest upper bounds, kept sorted.
      let filled = 0;
      for (let j = 0; j < n; j++) {
        const up = upper[j]!;
        if (filled === kk && !(up < kthUpper[kk - 1]!)) continue;
        let pos = filled < kk ? filled++ : kk - 1;
        while (pos > 0 && kthUpper[pos - 1]! > up) {
          kthUpper[pos] = kthUpper[pos - 1]!;
          pos--;
        }
        kthUpper[pos] = up;
      }
      // No sample of the exact k nearest lies beyond the k-th smallest upper bound: kk samples
      // are at most that far. The exact path ranks by sqrt(max(0, x)), flat below 0 and able to
      // round neighbours a few ulps apart to one value, hence max(., 0) and the relative margin.
      const top = kthUpper[kk - 1]!;
      const tau = Math.max(top, 0) + Math.abs(top) * 2 ** -40 + 1e-300;
      let count = 0;
      for (let j = 0; j < n; j++) {
        if (lower[j]! > tau) continue;
        candidates[count++] = j;
        exact[j] = distanceOf(screen.dot(b, j), sa, sqS[j]!, model.metric);
      }
      screenStats.rows++;
      screenStats.candidates += count;
      voteRow(exact, 0, candidates, count, model.targets, k, kk, model.weights, best, out, i * k);
    }
    r0 += rows;
  }
  return out;
}

/** Rows screened and exact distances computed, in this thread (for tests and the bench). */
export const screenStats = { rows: 0, candidates: 0 };

/** Screening pays for its per-pair bookkeeping with long vectors and enough pairs. */
const SCREEN_MIN_FEATURES = 256;
const SCREEN_MIN_WORK = 2_000_000;

/** Votes of standardised samples X; `screen` false forces the plain float64 path (the same result either way). */
export function evaluateKnn(model: KnnModel, X: Matrix, screen = true): Evaluation {
  const n = model.samples.rows;
  const sqX = squaredNorms(X);
  const sqS = cachedSquaredNorms(model.samples);
  const worth = X.cols >= SCREEN_MIN_FEATURES && X.rows * n * X.cols >= SCREEN_MIN_WORK && n > 4 * model.k;
  let fractions = screen && worth ? screenedVotes(model, X, sqX, sqS) : null;
  if (!fractions) {
    const dist = distancesFromDots(crossProductResident(X, model.samples), sqX, sqS, model.metric);
    const all = Int32Array.from({ length: n }, (_, i) => i);
    const rows = Int32Array.from({ length: X.rows }, (_, i) => i);
    fractions = neighbourVotes(dist, n, rows, all, model.targets, model.nClasses, model.k, model.weights);
  }
  const predicted = Int32Array.from({ length: X.rows }, (_, i) => argmaxRow(fractions, i, model.nClasses));
  return { k: model.nClasses, predicted, scores: fractions, probabilities: fractions };
}
