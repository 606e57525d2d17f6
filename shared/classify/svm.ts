import type { Evaluation } from './evaluation.ts';
import { SubKernel, rbfFromDot, type FullKernel, type KernelName } from './kernel.ts';
import { cachedSquaredNorms, crossProductResident, squaredNorms, takeRows, type Matrix } from './linalg.ts';
import { pairwiseToProbabilities, sigmoidTrain } from './platt.ts';
import type { Rng } from './prng.ts';
import { solveSmo } from './smo.ts';

/** Settings of one SVM fit, gamma already resolved to a number. */
export interface SvmSettings {
  kernel: KernelName;
  C: number;
  gamma: number;
  /** Per-class multipliers of C (libsvm's -wi), or null. */
  classWeight: Float64Array | null;
  /** Fit Platt's sigmoids (5-fold internal cross-validation per pair, as libsvm -b 1). */
  probability: boolean;
  shrinking: boolean;
  /** SMO stopping tolerance (scikit-learn's tol, libsvm's -e). */
  tol: number;
  /** Iteration cap per binary problem; libsvm's max(10^7, 100 l) when absent. */
  maxIter?: (l: number) => number;
}

/** One binary problem of one-vs-one: classes a < b, a is +1. */
export interface PairSolution {
  a: number;
  b: number;
  /** Training sample indices, class a's then class b's. */
  idx: Int32Array;
  /** alpha_t * y_t per sample of idx. */
  coef: Float64Array;
  rho: number;
  probA: number;
  probB: number;
  iterations: number;
  /** The iteration cap stopped the solver before the tolerance was met. */
  hitLimit: boolean;
}

/** A trained multi-class SVM in libsvm's layout. */
export interface SvmModel {
  kernel: KernelName;
  gamma: number;
  nClasses: number;
  /** Support vectors (standardised features), grouped by class in class order. */
  supportVectors: Matrix;
  /** Support vectors per class. */
  nSupport: Int32Array;
  /**
   * (k - 1) x nSV, libsvm's sv_coef: for the pair (i, j), the coefficients of class i's
   * support vectors are in row j - 1, those of class j's in row i.
   */
  dualCoef: Float64Array;
  /** Per pair (0,1), (0,2), ..., (1,2), ...: decision = sum + intercept (intercept = -rho). */
  intercept: Float64Array;
  probA: Float64Array | null;
  probB: Float64Array | null;
}

/** Class-balanced weights n / (k * count_c), scikit-learn's class_weight='balanced'. */
export function balancedWeights(y: ArrayLike<number>, k: number): Float64Array {
  const counts = new Float64Array(k);
  for (let i = 0; i < y.length; i++) counts[y[i]!]! += 1;
  return counts.map((c) => (c > 0 ? y.length / (k * c) : 1));
}

export function groupByClass(trainIdx: ArrayLike<number>, y: ArrayLike<number>, k: number): Int32Array[] {
  const lists: number[][] = Array.from({ length: k }, () => []);
  for (let t = 0; t < trainIdx.length; t++) lists[y[trainIdx[t]!]!]!.push(trainIdx[t]!);
  return lists.map((l) => Int32Array.from(l));
}

/** Trains one binary problem: idx with labels ysub (+1 / -1). */
function solveBinary(full: FullKernel, idx: Int32Array, ysub: Int8Array, Cp: number, Cn: number, s: SvmSettings) {
  let pos = 0;
  for (let t = 0; t < ysub.length; t++) if (ysub[t]! > 0) pos++;
  if (pos === 0 || pos === ysub.length) {
    // One side empty (a small class missing from a fold): a constant vote for the other.
    return { coef: new Float64Array(ysub.length), rho: pos === 0 ? 1 : -1, iterations: 0, hitLimit: false };
  }
  const options = { eps: s.tol, shrinking: s.shrinking, ...(s.maxIter ? { maxIter: s.maxIter(idx.length) } : {}) };
  const res = solveSmo(ysub, new SubKernel(full, idx), Cp, Cn, options);
  const coef = new Float64Array(ysub.length);
  for (let t = 0; t < coef.length; t++) coef[t] = res.alpha[t]! * ysub[t]!;
  return { coef, rho: res.rho, iterations: res.iterations, hitLimit: res.hitLimit };
}

function binaryDecision(full: FullKernel, idx: Int32Array, coef: Float64Array, rho: number, e: number): number {
  let sum = 0;
  for (let t = 0; t < idx.length; t++) if (coef[t] !== 0) sum += coef[t]! * full.value(e, idx[t]!);
  return sum - rho;
}

/** libsvm's svm_binary_svc_probability: 5-fold decision values, then Platt's sigmoid. */
function binaryProbability(full: FullKernel, idx: Int32Array, ysub: Int8Array, Cp: number, Cn: number, s: SvmSettings, rng: Rng) {
  const l = idx.length;
  const folds = 5;
  const perm = new Int32Array(l);
  for (let i = 0; i < l; i++) perm[i] = i;
  for (let i = 0; i < l; i++) {
    const j = i + rng.int(l - i);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  const dec = new Float64Array(l);
  for (let f = 0; f < folds; f++) {
    const begin = Math.floor((f * l) / folds);
    const end = Math.floor(((f + 1) * l) / folds);
    // The training part, positives first (each side in shuffled order), as libsvm groups classes.
    const train = [...perm.subarray(0, begin), ...perm.subarray(end)];
    const positives = train.filter((t) => ysub[t]! > 0);
    const ordered = [...positives, ...train.filter((t) => ysub[t]! < 0)];
    const pc = positives.length;
    const nc = ordered.length - pc;
    if (pc === 0 || nc === 0) {
      const v = pc === 0 && nc === 0 ? 0 : pc > 0 ? 1 : -1;
      for (let j = begin; j < end; j++) dec[perm[j]!] = v;
      continue;
    }
    const subIdx = Int32Array.from(ordered, (t) => idx[t]!);
    const subY = Int8Array.from(ordered, (t) => ysub[t]!);
    const fit = solveBinary(full, subIdx, subY, Cp, Cn, s);
    for (let j = begin; j < end; j++) dec[perm[j]!] = binaryDecision(full, subIdx, fit.coef, fit.rho, idx[perm[j]!]!);
  }
  return sigmoidTrain(dec, ysub);
}

/**
 * All k(k-1)/2 binary problems on the samples trainIdx (indices into the kernel), classes
 * a < b with a as +1. Platt's sigmoids are fitted when settings ask and rng is given.
 */
export function solveOneVsOne(
  full: FullKernel,
  y: Int32Array,
  k: number,
  trainIdx: Int32Array,
  s: SvmSettings,
  rng: Rng | null,
  onPair?: (done: number, total: number) => void,
): PairSolution[] {
  const groups = groupByClass(trainIdx, y, k);
  const pairs: PairSolution[] = [];
  const total = (k * (k - 1)) / 2;
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      const ga = groups[a]!;
      const gb = groups[b]!;
      const idx = new Int32Array(ga.length + gb.length);
      idx.set(ga, 0);
      idx.set(gb, ga.length);
      const ysub = new Int8Array(idx.length).fill(-1).fill(1, 0, ga.length);
      const Cp = s.C * (s.classWeight?.[a] ?? 1);
      const Cn = s.C * (s.classWeight?.[b] ?? 1);
      let probA = 0;
      let probB = 0;
      if (s.probability && rng && ga.length > 0 && gb.length > 0) ({ A: probA, B: probB } = binaryProbability(full, idx, ysub, Cp, Cn, s, rng));
      const fit = solveBinary(full, idx, ysub, Cp, Cn, s);
      pairs.push({ a, b, idx, coef: fit.coef, rho: fit.rho, probA, probB, iterations: fit.iterations, hitLimit: fit.hitLimit });
      onPair?.(pairs.length, total);
    }
  }
  return pairs;
}

/** Decision values (m x pairs) of samples evalIdx, from the training kernel (cross-validation). */
export function pairDecisions(full: FullKernel, pairs: PairSolution[], evalIdx: Int32Array): Float64Array {
  const P = pairs.length;
  const out = new Float64Array(evalIdx.length * P);
  pairs.forEach((pair, p) => {
    const nz: number[] = [];
    for (let t = 0; t < pair.idx.length; t++) if (pair.coef[t] !== 0) nz.push(t);
    for (let e = 0; e < evalIdx.length; e++) {
      let sum = 0;
      for (const t of nz) sum += pair.coef[t]! * full.value(evalIdx[e]!, pair.idx[t]!);
      out[e * P + p] = sum - pair.rho;
    }
  });
  return out;
}

/** libsvm's vote: dec > 0 votes for the first class of the pair; ties go to the lower class. */
export function votes(dec: Float64Array, m: number, k: number): Int32Array {
  const P = (k * (k - 1)) / 2;
  const out = new Int32Array(m);
  const count = new Int32Array(k);
  for (let e = 0; e < m; e++) {
    count.fill(0);
    let p = 0;
    for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) count[dec[e * P + p++]! > 0 ? a : b]!++;
    let best = 0;
    for (let c = 1; c < k; c++) if (count[c]! > count[best]!) best = c;
    out[e] = best;
  }
  return out;
}

/**
 * Per-class scores from one-vs-one decision values: scikit-learn's one-vs-rest shape
 * (votes plus confidences squashed into (-1/3, 1/3)); for two classes simply (dec, -dec).
 */
export function ovrScores(dec: Float64Array, m: number, k: number): Float64Array {
  const out = new Float64Array(m * k);
  if (k === 2) {
    for (let e = 0; e < m; e++) {
      out[e * 2] = dec[e]!;
      out[e * 2 + 1] = -dec[e]!;
    }
    return out;
  }
  const P = (k * (k - 1)) / 2;
  const conf = new Float64Array(k);
  for (let e = 0; e < m; e++) {
    conf.fill(0);
    let p = 0;
    for (let a = 0; a < k; a++) {
      for (let b = a + 1; b < k; b++) {
        const d = dec[e * P + p++]!;
        conf[a]! += d;
        conf[b]! -= d;
        out[e * k + (d < 0 ? b : a)]! += 1;
      }
    }
    for (let c = 0; c < k; c++) out[e * k + c]! += conf[c]! / (3 * (Math.abs(conf[c]!) + 1));
  }
  return out;
}

/** The model from pairs solved on the whole training set X (the rows their idx refer to). */
export function buildSvmModel(X: Matrix, y: Int32Array, k: number, pairs: PairSolution[], s: SvmSettings): SvmModel {
  const n = X.rows;
  const nonzero = new Uint8Array(n);
  for (const pair of pairs) for (let t = 0; t < pair.idx.length; t++) if (pair.coef[t] !== 0) nonzero[pair.idx[t]!] = 1;
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const groups = groupByClass(all, y, k);
  const svIdx: number[] = [];
  const nSupport = new Int32Array(k);
  const position = new Int32Array(n).fill(-1);
  groups.forEach((g, c) => {
    for (const i of g) {
      if (!nonzero[i]) continue;
      position[i] = svIdx.length;
      svIdx.push(i);
      nSupport[c]!++;
    }
  });
  const nSV = svIdx.length;
  const dualCoef = new Float64Array(Math.max(0, k - 1) * nSV);
  const intercept = new Float64Array(pairs.length);
  pairs.forEach((pair, p) => {
    intercept[p] = -pair.rho;
    for (let t = 0; t < pair.idx.length; t++) {
      const i = pair.idx[t]!;
      if (position[i]! < 0) continue;
      const row = y[i] === pair.a ? pair.b - 1 : pair.a;
      dualCoef[row * nSV + position[i]!] = pair.coef[t]!;
    }
  });
  return {
    kernel: s.kernel,
    gamma: s.gamma,
    nClasses: k,
    supportVectors: takeRows(X, svIdx),
    nSupport,
    dualCoef,
    intercept,
    probA: s.probability ? Float64Array.from(pairs, (p) => p.probA) : null,
    probB: s.probability ? Float64Array.from(pairs, (p) => p.probB) : null,
  };
}

/**
 * One-vs-one decision values (m x pairs) of standardised samples X, as libsvm's svm_predict_values.
 * The support vectors' squared norms are computed once per model, and from the second call on
 * the support vectors stay in WebAssembly memory (linalg.ts's predict-time caches): a model's
 * support vectors must not be changed once it has predicted.
 */
export function svmDecision(model: SvmModel, X: Matrix): Float64Array {
  const SV = model.supportVectors;
  const nSV = SV.rows;
  const m = X.rows;
  const k = model.nClasses;
  const P = (k * (k - 1)) / 2;
  const kv = nSV > 0 ? crossProductResident(X, SV) : new Float64Array(0);
  if (model.kernel === 'rbf' && nSV > 0) {
    const sqX = squaredNorms(X);
    const sqS = cachedSquaredNorms(SV);
    const gamma = model.gamma;
    for (let e = 0; e < m; e++) {
      const sx = sqX[e]!;
      const base = e * nSV;
      for (let s = 0; s < nSV; s++) kv[base + s] = rbfFromDot(gamma, sx, sqS[s]!, kv[base + s]!);
    }
  }
  const start = new Int32Array(k);
  for (let c = 1; c < k; c++) start[c] = start[c - 1]! + model.nSupport[c - 1]!;
  const dec = new Float64Array(m * P);
  const coef = model.dualCoef;
  for (let e = 0; e < m; e++) {
    const base = e * nSV;
    let p = 0;
    for (let a = 0; a < k; a++) {
      for (let b = a + 1; b < k; b++) {
        let sum = 0;
        const sa = start[a]!;
        const sb = start[b]!;
        const rowA = (b - 1) * nSV;
        const rowB = a * nSV;
        for (let t = 0; t < model.nSupport[a]!; t++) sum += coef[rowA + sa + t]! * kv[base + sa + t]!;
        for (let t = 0; t < model.nSupport[b]!; t++) sum += coef[rowB + sb + t]! * kv[base + sb + t]!;
        dec[e * P + p] = sum + model.intercept[p]!;
        p++;
      }
    }
  }
  return dec;
}

/** Votes, per-class scores and (when the model has sigmoids) probabilities of standardised samples. */
export function evaluateSvm(model: SvmModel, X: Matrix): Evaluation {
  const k = model.nClasses;
  const m = X.rows;
  const P = (k * (k - 1)) / 2;
  const dec = svmDecision(model, X);
  let probabilities: Float64Array | null = null;
  if (model.probA && model.probB) {
    probabilities = new Float64Array(m * k);
    for (let e = 0; e < m; e++) pairwiseToProbabilities(k, dec.subarray(e * P, (e + 1) * P), model.probA, model.probB, probabilities.subarray(e * k, (e + 1) * k));
  }
  return { k, predicted: votes(dec, m, k), scores: ovrScores(dec, m, k), probabilities };
}

/** scikit-learn's gamma='scale' on the standardised training matrix: 1 / (d * X.var()). */
export function scaleGamma(d: number, variance: number): number {
  return variance !== 0 ? 1 / (d * variance) : 1;
}

