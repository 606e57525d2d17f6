import { dot, gramMatrix, squaredNorms, type Matrix } from './linalg.ts';

export type KernelName = 'rbf' | 'linear';

/** A kernel over the n training samples, K(a, b) by sample index. */
export interface FullKernel {
  readonly n: number;
  /** out[t] = K(a, idx[t]). */
  rowInto(a: number, idx: Int32Array, out: Float64Array): void;
  value(a: number, b: number): number;
}

/** Bytes a precomputed n x n kernel matrix may take; above it, rows are computed on demand. */
export const MAX_PRECOMPUTED_BYTES = 1024 * 2 ** 20;

export const rbfFromDot = (gamma: number, sqA: number, sqB: number, ab: number): number => Math.exp(-gamma * Math.max(0, sqA + sqB - 2 * ab));

/** The kernel matrix, whole: K[a * n + b]. */
export class PrecomputedKernel implements FullKernel {
  constructor(
    readonly n: number,
    readonly K: Float64Array,
  ) {}
  rowInto(a: number, idx: Int32Array, out: Float64Array): void {
    const base = a * this.n;
    for (let t = 0; t < idx.length; t++) out[t] = this.K[base + idx[t]!]!;
  }
  value(a: number, b: number): number {
    return this.K[a * this.n + b]!;
  }
}

/** Kernel values from the data, one dot product each (for data too large to precompute). */
export class OnDemandKernel implements FullKernel {
  readonly n: number;
  private readonly sq: Float64Array;
  constructor(
    private readonly X: Matrix,
    private readonly kernel: KernelName,
    private readonly gamma: number,
  ) {
    this.n = X.rows;
    this.sq = squaredNorms(X);
  }
  value(a: number, b: number): number {
    const d = this.X.cols;
    const ab = dot(this.X.data, a * d, this.X.data, b * d, d);
    return this.kernel === 'linear' ? ab : rbfFromDot(this.gamma, this.sq[a]!, this.sq[b]!, ab);
  }
  rowInto(a: number, idx: Int32Array, out: Float64Array): void {
    for (let t = 0; t < idx.length; t++) out[t] = this.value(a, idx[t]!);
  }
}

/** The Gram matrix (all dot products) of the training data, the base of every precomputed kernel. */
export interface GramData {
  n: number;
  gram: Float64Array;
  sq: Float64Array;
}

export function gramData(X: Matrix, gram?: Float64Array): GramData {
  const g = gram ?? gramMatrix(X);
  const sq = new Float64Array(X.rows);
  for (let i = 0; i < X.rows; i++) sq[i] = g[i * X.rows + i]!;
  return { n: X.rows, gram: g, sq };
}

export function precomputedKernel(g: GramData, kernel: KernelName, gamma: number): PrecomputedKernel {
  if (kernel === 'linear') return new PrecomputedKernel(g.n, g.gram);
  const { n, gram, sq } = g;
  const K = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    K[a * n + a] = 1;
    for (let b = 0; b < a; b++) {
      const v = rbfFromDot(gamma, sq[a]!, sq[b]!, gram[a * n + b]!);
      K[a * n + b] = v;
      K[b * n + a] = v;
    }
  }
  return new PrecomputedKernel(n, K);
}

export const canPrecompute = (n: number): boolean => n * n * 8 <= MAX_PRECOMPUTED_BYTES;

/**
 * The kernel of one binary problem: K(idx[s], idx[t]) between its samples s, t < l. Rows
 * come in any order the solver asks (`gatherInto`); with a precomputed matrix they are read
 * from it directly, otherwise computed once per sample and kept (least recently used out).
 */
export class SubKernel {
  readonly l: number;
  readonly diag: Float64Array;
  private readonly K: Float64Array | null;
  private readonly n: number;
  private readonly computed = new Map<number, Float64Array>();
  private readonly capacity: number;

  constructor(
    private readonly full: FullKernel,
    private readonly idx: Int32Array,
    cacheBytes = 256 * 2 ** 20,
  ) {
    this.l = idx.length;
    this.n = full.n;
    this.diag = new Float64Array(this.l);
    for (let t = 0; t < this.l; t++) this.diag[t] = full.value(idx[t]!, idx[t]!);
    this.K = full instanceof PrecomputedKernel ? full.K : null;
    this.capacity = Math.max(2, Math.floor(cacheBytes / (8 * Math.max(1, this.l))));
  }

  /** out[p] = K(sample s, sample order[p]) for every p. */
  gatherInto(s: number, order: Int32Array, out: Float64Array): void {
    const idx = this.idx;
    if (this.K) {
      const K = this.K;
      const base = idx[s]! * this.n;
      for (let p = 0; p < order.length; p++) out[p] = K[base + idx[order[p]!]!]!;
      return;
    }
    let row = this.computed.get(s);
    if (row) {
      this.computed.delete(s);
    } else {
      if (this.computed.size >= this.capacity) this.computed.delete(this.computed.keys().next().value as number);
      row = new Float64Array(this.l);
      this.full.rowInto(idx[s]!, idx, row);
    }
    this.computed.set(s, row);
    for (let p = 0; p < order.length; p++) out[p] = row[order[p]!]!;
  }
}
