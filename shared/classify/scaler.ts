import { matrix, type Matrix } from './linalg.ts';

/** Z-scoring as scikit-learn's StandardScaler: population std, and 1 for a constant feature. */
export interface Scaler {
  mean: Float64Array;
  scale: Float64Array;
}

export function fitScaler(X: Matrix): Scaler {
  const { rows: n, cols: d, data } = X;
  const mean = new Float64Array(d);
  const scale = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += data[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  const variance = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const t = data[i * d + j]! - mean[j]!;
      variance[j]! += t * t;
    }
  }
  const eps = 2 ** -52;
  for (let j = 0; j < d; j++) {
    const v = variance[j]! / n;
    // scikit-learn's _is_constant_feature: a variance within rounding of zero counts as zero.
    const bound = n * eps * v + (n * mean[j]! * eps) ** 2;
    scale[j] = v <= bound ? 1 : Math.sqrt(v);
  }
  return { mean, scale };
}

export function transform(s: Scaler, X: Matrix): Matrix {
  const d = X.cols;
  if (s.mean.length !== d) throw new Error(`scaler: ${d} features given, ${s.mean.length} expected`);
  const out = new Float64Array(X.data.length);
  for (let i = 0; i < X.rows; i++) {
    for (let j = 0; j < d; j++) out[i * d + j] = (X.data[i * d + j]! - s.mean[j]!) / s.scale[j]!;
  }
  return matrix(X.rows, d, out);
}

/** The variance of all entries of a matrix together (numpy's X.var()), for gamma = 'scale'. */
export function overallVariance(X: Matrix): number {
  const n = X.data.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += X.data[i]!;
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (X.data[i]! - mean) ** 2;
  return sq / n;
}
