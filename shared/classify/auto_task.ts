import type { FoldResult } from './auto_search.ts';
import type { Split } from './cv.ts';
import { matrix, type Matrix } from './linalg.ts';
import type { CandidateParams } from './params.ts';
import { evaluateOnSplit, type TrainSettings } from './train.ts';

/** One group of candidates on one split, as plain data (it crosses to a worker thread; X may sit on shared memory). */
export interface AutoTask {
  /** Every row the search uses, with every column extracted at this size. */
  X: Matrix;
  y: Int32Array;
  k: number;
  /** The candidate feature set's columns of X. */
  columns: Int32Array;
  split: Split;
  params: CandidateParams[];
  settings: TrainSettings;
}

/** The split's rows (training rows first) and the set's columns of X, in one copy. */
function gather(X: Matrix, rows: Int32Array, cols: Int32Array): Matrix {
  const d = cols.length;
  const out = new Float64Array(rows.length * d);
  for (let r = 0; r < rows.length; r++) {
    const base = rows[r]! * X.cols;
    for (let j = 0; j < d; j++) out[r * d + j] = X.data[base + cols[j]!]!;
  }
  return matrix(rows.length, d, out);
}

/** Fits every candidate on the split's training rows and evaluates it on its test rows. */
export function runAutoTask(t: AutoTask): FoldResult {
  const started = performance.now();
  const nTrain = t.split.train.length;
  const rows = new Int32Array(nTrain + t.split.test.length);
  rows.set(t.split.train);
  rows.set(t.split.test, nTrain);
  const X = gather(t.X, rows, t.columns);
  const y = Int32Array.from(rows, (i) => t.y[i]!);
  const local = { train: Int32Array.from({ length: nTrain }, (_, i) => i), test: Int32Array.from({ length: t.split.test.length }, (_, i) => nTrain + i) };
  const capped = new Int32Array(t.params.length);
  const evaluations = evaluateOnSplit(X, y, t.k, local, t.params, t.settings, capped, () => {});
  return { evaluations, capped: Array.from(capped), ms: performance.now() - started };
}
