import { argmaxRow, type Evaluation } from './evaluation.ts';
import { screenProducts } from './knn_screen.ts';
import { cachedSquaredNorms, crossProduct32Resident, crossProductResident, dot, float32DotBound, squaredNorms, type Matrix } from './linalg.ts';

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
 * Approximate dot products of the test rows with the training rows, and a bound on their
 * error per pair: |approx - a.b| <= p[i] q[j] + r[i] s[j] + t[i] (terms per row, so that the
 * screen costs a few operations per pair).
 */
interface Screen {
  /** Row i's approximate dots into `into` (training rows in order). */
  row(i: number, into: Float64Array): void;
  p: Float64Array;
  q: Float64Array;
  r: Float64Array;
  s: Float64Array;
  t: Float64Array;
}

/** The int16 screen (knn_screen.ts): exact integer products, scaled; its bound |a^| |e_b| + |e_a| |b| plus the scaling's rounding. */
function int16Screen(X: Matrix, S: Matrix, normS: Float64Array): Screen | null {
  const products = screenProducts(X, S);
  if (!products) return null;
  const { ints, x, s: st } = products;
  const n = S.rows;
  // alpha_a (alpha_b I) rounds twice: within 2^-51 |a^| |b^|, and |b^| <= |b| + |e_b|
  const tiny = 2 ** -50;
  return {
    row(i, into) {
      const a = x.alpha[i]!;
      for (let j = 0; j < n; j++) into[j] = a * (st.alpha[j]! * ints[i * n + j]!);
    },
    p: x.norm,
    q: Float64Array.from(st.error, (e, j) => e + tiny * (normS[j]! + e)),
    r: x.error,
    s: Float64Array.from(normS, (v) => v * (1 + 1e-12)),
    t: new Float64Array(X.rows).fill(1e-300),
  };
}

/** The float32 screen: rel |a| |b| + abs (1 + |a| + |b|) (float32DotBound). */
function float32Screen(X: Matrix, S: Matrix, normX: Float64Array, normS: Float64Array): Screen | null {
  const approx = crossProduct32Resident(X, S);
  if (!approx) return null;
  const n = S.rows;
  const { relative: rel, absolute: abs } = float32DotBound(S.cols);
  return {
    row(i, into) {
      for (let j = 0; j < n; j++) into[j] = approx[i * n + j]!;
    },
    p: Float64Array.from(normX, (na) => rel * na + abs),
    q: normS,
    r: new Float64Array(X.rows),
    s: normS,
    t: Float64Array.from(normX, (na) => abs * (1 + na)),
  };
}

/**
 * The same votes as the exact float64 distances give, from approximate ones: a fast product
 * with a rigorous error bound per pair (int16, else float32) screens the training samples,
 * and only those that could be among the k nearest get their exact distance. Every sample
 * of the exact k nearest (ties included) passes the screen, so the result is the same bits
 * as `neighbourVotes` over all distances. Null where WebAssembly SIMD is missing.
 */
function screenedVotes(model: KnnModel, X: Matrix, sqX: Float64Array, sqS: Float64Array, int16 = true): Float64Array | null {
  const S = model.samples;
  const normS = Float64Array.from(sqS, Math.sqrt);
  const normX = Float64Array.from(sqX, Math.sqrt);
  const screen = (int16 ? int16Screen(X, S, normS) : null) ?? float32Screen(X, S, normX, normS);
  if (!screen) return null;
  const n = S.rows;
  const d = S.cols;
  const k = model.nClasses;
  const kk = Math.min(model.k, n);
  const out = new Float64Array(X.rows * k);
  const best = { d: new Float64Array(kk), t: new Int32Array(kk) };
  const lower = new Float64Array(n);
  const exact = new Float64Array(n);
  const approx = new Float64Array(n);
  const candidates = new Int32Array(n);
  const kthUpper = new Float64Array(kk);
  const eps = 2 ** -52;
  const euclidean = model.metric === 'euclidean';
  const { q, s } = screen;
  // The exact path's own rounding, euclidean: 8 eps (|a|^2 + |b|^2 + 2 |a||b|), split per row and per training sample.
  const colTerm = Float64Array.from(sqS, (sb) => 8 * eps * sb);
  for (let i = 0; i < X.rows; i++) {
    const sa = sqX[i]!;
    const na = normX[i]!;
    const [p, r, t] = [screen.p[i]!, screen.r[i]!, screen.t[i]!];
    const rowTerm = 8 * eps * sa;
    screen.row(i, approx);
    let filled = 0;
    for (let j = 0; j < n; j++) {
      const ab = approx[j]!;
      const err = p * q[j]! + r * s[j]! + t;
      // Bounds on the value the exact path ranks by, widened by its own rounding.
      let v: number;
      let e: number;
      if (euclidean) {
        v = sa + sqS[j]! - 2 * ab;
        e = 2 * err + rowTerm + colTerm[j]! + 16 * eps * na * normS[j]!;
      } else {
        const norm = na * normS[j]!;
        v = 1 - (norm > 0 ? ab / norm : 0);
        e = norm > 0 ? err / norm + 8 * eps * (1 + Math.abs(ab) / norm) : 0;
      }
      lower[j] = v - e;
      // The kk smallest upper bounds, kept sorted.
      const up = v + e;
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
      exact[j] = distanceOf(dot(X.data, i * d, S.data, j * d, d), sa, sqS[j]!, model.metric);
    }
    screenStats.rows++;
    screenStats.candidates += count;
    voteRow(exact, 0, candidates, count, model.targets, k, kk, model.weights, best, out, i * k);
  }
  return out;
}

/** Rows screened and exact distances computed, in this thread (for tests and the bench). */
export const screenStats = { rows: 0, candidates: 0 };

/** Screening pays for its per-pair bookkeeping with long vectors and enough pairs. */
const SCREEN_MIN_FEATURES = 256;
const SCREEN_MIN_WORK = 2_000_000;

/**
 * Votes of standardised samples X; `screen` false forces the plain float64 path, 'float32'
 * the float32 screen instead of the int16 one (the same result every way).
 */
export function evaluateKnn(model: KnnModel, X: Matrix, screen: boolean | 'float32' = true): Evaluation {
  const n = model.samples.rows;
  const sqX = squaredNorms(X);
  const sqS = cachedSquaredNorms(model.samples);
  const worth = X.cols >= SCREEN_MIN_FEATURES && X.rows * n * X.cols >= SCREEN_MIN_WORK && n > 4 * model.k;
  let fractions = screen && worth ? screenedVotes(model, X, sqX, sqS, screen !== 'float32') : null;
  if (!fractions) {
    const dist = distancesFromDots(crossProductResident(X, model.samples), sqX, sqS, model.metric);
    const all = Int32Array.from({ length: n }, (_, i) => i);
    const rows = Int32Array.from({ length: X.rows }, (_, i) => i);
    fractions = neighbourVotes(dist, n, rows, all, model.targets, model.nClasses, model.k, model.weights);
  }
  const predicted = Int32Array.from({ length: X.rows }, (_, i) => argmaxRow(fractions, i, model.nClasses));
  return { k: model.nClasses, predicted, scores: fractions, probabilities: fractions };
}
