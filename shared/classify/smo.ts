import type { SubKernel } from './kernel.ts';

/**
 * libsvm's SMO solver for the C-SVC dual (Fan, Chen and Lin, JMLR 6 (2005) 1889-1918):
 *
 *   min 0.5 a^T Q a - e^T a   subject to   y^T a = 0,  0 <= a_t <= C_t,   Q_st = y_s y_t K_st
 *
 * with the second-order working-set selection (WSS3), libsvm's shrinking and unshrinking,
 * gradient reconstruction, stopping rule (maximal violation < eps) and rho. As in libsvm,
 * every array is kept in "position" order, shrinking swaps positions so that the active
 * variables come first, and cached kernel rows are swapped along, so the hot loops run
 * over contiguous memory.
 */
export interface SmoOptions {
  /** Stopping tolerance on the maximal violating pair (libsvm -e, scikit-learn tol). */
  eps: number;
  shrinking: boolean;
  maxIter?: number;
  /** Bytes of kernel rows to keep (at least two rows). */
  cacheBytes?: number;
}

export interface SmoResult {
  /** The dual variables by sample, 0 <= alpha_t <= C_t. */
  alpha: Float64Array;
  rho: number;
  iterations: number;
  objective: number;
  /** Whether the iteration limit stopped it before the tolerance was met. */
  hitLimit: boolean;
}

const LOWER = 0;
const UPPER = 1;
const FREE = 2;
const TAU = 1e-12;

/** Kernel rows in position order, swapped along with the positions (libsvm's Cache). */
class RowCache {
  private readonly slot: Int32Array;
  private readonly rows: Float64Array[] = [];
  private readonly owner: number[] = [];
  private readonly lastUse: number[] = [];
  private clock = 0;
  private readonly capacity: number;

  constructor(
    private readonly Q: SubKernel,
    private readonly sample: Int32Array,
    cacheBytes: number,
  ) {
    const l = sample.length;
    this.slot = new Int32Array(l).fill(-1);
    this.capacity = Math.max(2, Math.floor(cacheBytes / (8 * Math.max(1, l))));
  }

  /** K(sample at p, sample at q) for every position q. */
  row(p: number): Float64Array {
    const s = this.sample[p]!;
    const at = this.slot[s]!;
    if (at >= 0) {
      this.lastUse[at] = ++this.clock;
      return this.rows[at]!;
    }
    let k: number;
    if (this.rows.length < this.capacity) {
      k = this.rows.length;
      this.rows.push(new Float64Array(this.sample.length));
      this.owner.push(s);
      this.lastUse.push(0);
    } else {
      k = 0;
      for (let r = 1; r < this.rows.length; r++) if (this.lastUse[r]! < this.lastUse[k]!) k = r;
      this.slot[this.owner[k]!] = -1;
      this.owner[k] = s;
    }
    this.slot[s] = k;
    this.lastUse[k] = ++this.clock;
    const out = this.rows[k]!;
    this.Q.gatherInto(s, this.sample, out);
    return out;
  }

  /** Positions p and q trade places (the caller swaps `sample`). */
  swap(p: number, q: number): void {
    for (const r of this.rows) {
      const t = r[p]!;
      r[p] = r[q]!;
      r[q] = t;
    }
  }
}

/** The solver's arrays, all by position; `sample[p]` is the sample at position p. */
interface State {
  l: number;
  ys: Float64Array;
  C: Float64Array;
  alpha: Float64Array;
  /** y_p G_p, G the gradient: what the scans need; G_p = y_p yG_p exactly. */
  yG: Float64Array;
  Gbar: Float64Array;
  status: Uint8Array;
  /**
   * 0 where p may move up (I_up), else -Infinity: -yG_p + upPenalty_p is WSS3's first
   * score and -Infinity for those it must skip, so the scans need no branch on the status.
   */
  upPenalty: Float64Array;
  /** The same for I_low and the score yG_p. */
  lowPenalty: Float64Array;
  QD: Float64Array;
  sample: Int32Array;
  rows: RowCache;
  active: number;
  unshrink: boolean;
  eps: number;
}

/** Sets the status of p from alpha_p, and its scan penalties. */
function refresh(s: State, p: number): void {
  const a = s.alpha[p]!;
  const st = a >= s.C[p]! ? UPPER : a <= 0 ? LOWER : FREE;
  s.status[p] = st;
  const y = s.ys[p]!;
  s.upPenalty[p] = (y > 0 ? st !== UPPER : st !== LOWER) ? 0 : -Infinity;
  s.lowPenalty[p] = (y > 0 ? st !== LOWER : st !== UPPER) ? 0 : -Infinity;
}

function swapPositions(s: State, p: number, q: number): void {
  if (p === q) return;
  s.rows.swap(p, q);
  for (const a of [s.ys, s.C, s.alpha, s.yG, s.Gbar, s.upPenalty, s.lowPenalty, s.QD]) {
    const t = a[p]!;
    a[p] = a[q]!;
    a[q] = t;
  }
  const st = s.status[p]!;
  s.status[p] = s.status[q]!;
  s.status[q] = st;
  const sm = s.sample[p]!;
  s.sample[p] = s.sample[q]!;
  s.sample[q] = sm;
}

function reconstructGradient(s: State): void {
  const { l, yG, Gbar, status, alpha, ys, rows } = s;
  const active = s.active;
  if (active === l) return;
  // G = Gbar + p (p = -1), plus the free variables' part: G_t += alpha_i Q_it, kept as y_t G_t.
  for (let q = active; q < l; q++) yG[q] = ys[q]! * (Gbar[q]! - 1);
  let nFree = 0;
  for (let p = 0; p < active; p++) if (status[p] === FREE) nFree++;
  if (nFree * l > 2 * active * (l - active)) {
    for (let q = active; q < l; q++) {
      const Kq = rows.row(q);
      let sum = 0;
      for (let p = 0; p < active; p++) if (status[p] === FREE) sum += alpha[p]! * ys[p]! * Kq[p]!;
      yG[q]! += sum;
    }
  } else {
    for (let p = 0; p < active; p++) {
      if (status[p] !== FREE) continue;
      const Kp = rows.row(p);
      const a = alpha[p]! * ys[p]!;
      for (let q = active; q < l; q++) yG[q]! += a * Kp[q]!;
    }
  }
}

/** WSS3. Writes the pair of positions to out and returns true, or false when optimal within eps. */
function selectWorkingSet(s: State, out: Int32Array): boolean {
  const { yG, upPenalty, lowPenalty, QD, rows, eps } = s;
  const active = s.active;
  // i: the largest -y_t G_t over I_up (the last of equals, as libsvm's >=).
  let Gmax = -Infinity;
  let GmaxIdx = -1;
  for (let p = 0; p < active; p++) {
    const v = -yG[p]! + upPenalty[p]!;
    if (v >= Gmax) {
      Gmax = v;
      GmaxIdx = p;
    }
  }
  if (Gmax === -Infinity) return false;
  const Ki = rows.row(GmaxIdx);
  const QDi = QD[GmaxIdx]!;
  // j: over I_low with y_j G_j > -Gmax, the largest second-order decrease; and max y_j G_j.
  let Gmax2 = -Infinity;
  let GminIdx = -1;
  let objMin = Infinity;
  for (let p = 0; p < active; p++) {
    const v = yG[p]! + lowPenalty[p]!;
    if (v >= Gmax2) Gmax2 = v;
    const gradDiff = Gmax + v;
    if (gradDiff > 0) {
      // QD_i + QD_j - 2 y_i Q_ij, and y_i Q_ij = y_j K_ij: the same expression for either y_j.
      const quad = QDi + QD[p]! - 2 * Ki[p]!;
      const objDiff = -(gradDiff * gradDiff) / (quad > 0 ? quad : TAU);
      if (objDiff <= objMin) {
        GminIdx = p;
        objMin = objDiff;
      }
    }
  }
  if (Gmax + Gmax2 < eps || GminIdx === -1) return false;
  out[0] = GmaxIdx;
  out[1] = GminIdx;
  return true;
}

function beShrunk(s: State, p: number, Gmax1: number, Gmax2: number): boolean {
  const st = s.status[p];
  const g = s.ys[p]! * s.yG[p]!;
  if (st === UPPER) return s.ys[p]! > 0 ? -g > Gmax1 : -g > Gmax2;
  if (st === LOWER) return s.ys[p]! > 0 ? g > Gmax2 : g > Gmax1;
  return false;
}

function doShrinking(s: State): void {
  const { yG, upPenalty, lowPenalty } = s;
  // Gmax1 = max -y_t G_t over I_up, Gmax2 = max y_t G_t over I_low.
  let Gmax1 = -Infinity;
  let Gmax2 = -Infinity;
  for (let p = 0; p < s.active; p++) {
    const up = -yG[p]! + upPenalty[p]!;
    const low = yG[p]! + lowPenalty[p]!;
    if (up >= Gmax1) Gmax1 = up;
    if (low >= Gmax2) Gmax2 = low;
  }
  if (!s.unshrink && Gmax1 + Gmax2 <= s.eps * 10) {
    s.unshrink = true;
    reconstructGradient(s);
    s.active = s.l;
  }
  for (let p = 0; p < s.active; p++) {
    if (!beShrunk(s, p, Gmax1, Gmax2)) continue;
    s.active--;
    while (s.active > p) {
      if (!beShrunk(s, s.active, Gmax1, Gmax2)) {
        swapPositions(s, p, s.active);
        break;
      }
      s.active--;
    }
  }
}

/** yG_t += y_i dA_i K_it + y_j dA_j K_jt over the active set: G_t += Q_it dA_i + Q_jt dA_j. */
function updateGradient(yG: Float64Array, active: number, Ki: Float64Array, Kj: Float64Array, ci: number, cj: number): void {
  let p = 0;
  // Four at a time: the same sums in the same order, fewer loop and bounds checks.
  for (; p + 3 < active; p += 4) {
    const g0 = yG[p]! + (ci * Ki[p]! + cj * Kj[p]!);
    const g1 = yG[p + 1]! + (ci * Ki[p + 1]! + cj * Kj[p + 1]!);
    const g2 = yG[p + 2]! + (ci * Ki[p + 2]! + cj * Kj[p + 2]!);
    const g3 = yG[p + 3]! + (ci * Ki[p + 3]! + cj * Kj[p + 3]!);
    yG[p] = g0;
    yG[p + 1] = g1;
    yG[p + 2] = g2;
    yG[p + 3] = g3;
  }
  for (; p < active; p++) yG[p]! += ci * Ki[p]! + cj * Kj[p]!;
}

/** Gbar_t += scale * y_t K_it over all positions. */
function updateGbar(s: State, row: Float64Array, scale: number): void {
  const { l, Gbar, ys } = s;
  for (let q = 0; q < l; q++) Gbar[q]! += scale * ys[q]! * row[q]!;
}

export function solveSmo(y: Int8Array, Q: SubKernel, Cp: number, Cn: number, options: SmoOptions): SmoResult {
  const l = y.length;
  const ys = Float64Array.from(y);
  const sample = Int32Array.from({ length: l }, (_, t) => t);
  const s: State = {
    l,
    ys,
    C: Float64Array.from(y, (v) => (v > 0 ? Cp : Cn)),
    alpha: new Float64Array(l),
    yG: Float64Array.from(ys, (v) => -v), // G = p = -1 at alpha = 0
    Gbar: new Float64Array(l),
    status: new Uint8Array(l),
    upPenalty: new Float64Array(l),
    lowPenalty: new Float64Array(l),
    QD: Float64Array.from(Q.diag),
    sample,
    rows: new RowCache(Q, sample, options.cacheBytes ?? 256 * 2 ** 20),
    active: l,
    unshrink: false,
    eps: options.eps,
  };
  for (let p = 0; p < l; p++) refresh(s, p);
  const { alpha, yG, status, QD, C, rows } = s;
  const ws = new Int32Array(2);
  const maxIter = options.maxIter ?? Math.max(10_000_000, 100 * l);
  let iter = 0;
  let counter = Math.min(l, 1000) + 1;
  while (iter < maxIter) {
    if (--counter === 0) {
      counter = Math.min(l, 1000);
      if (options.shrinking) doShrinking(s);
    }
    if (!selectWorkingSet(s, ws)) {
      reconstructGradient(s);
      s.active = l;
      if (!selectWorkingSet(s, ws)) break;
      counter = 1; // shrink at the next iteration
    }
    iter++;
    const i = ws[0]!;
    const j = ws[1]!;
    const Ki = rows.row(i);
    const Kj = rows.row(j);
    const yi = ys[i]!;
    const yj = ys[j]!;
    const Ci = C[i]!;
    const Cj = C[j]!;
    const oldAi = alpha[i]!;
    const oldAj = alpha[j]!;
    const Qij = yi * yj * Ki[j]!;
    let ai = oldAi;
    let aj = oldAj;
    if (yi !== yj) {
      let quad = QD[i]! + QD[j]! + 2 * Qij;
      if (quad <= 0) quad = TAU;
      const delta = (-(yi * yG[i]!) - yj * yG[j]!) / quad;
      const diff = ai - aj;
      ai += delta;
      aj += delta;
      if (diff > 0) {
        if (aj < 0) {
          aj = 0;
          ai = diff;
        }
      } else if (ai < 0) {
        ai = 0;
        aj = -diff;
      }
      if (diff > Ci - Cj) {
        if (ai > Ci) {
          ai = Ci;
          aj = Ci - diff;
        }
      } else if (aj > Cj) {
        aj = Cj;
        ai = Cj + diff;
      }
    } else {
      let quad = QD[i]! + QD[j]! - 2 * Qij;
      if (quad <= 0) quad = TAU;
      const delta = (yi * yG[i]! - yj * yG[j]!) / quad;
      const sum = ai + aj;
      ai -= delta;
      aj += delta;
      if (sum > Ci) {
        if (ai > Ci) {
          ai = Ci;
          aj = sum - Ci;
        }
      } else if (aj < 0) {
        aj = 0;
        ai = sum;
      }
      if (sum > Cj) {
        if (aj > Cj) {
          aj = Cj;
          ai = sum - Cj;
        }
      } else if (ai < 0) {
        ai = 0;
        aj = sum;
      }
    }
    alpha[i] = ai;
    alpha[j] = aj;
    updateGradient(yG, s.active, Ki, Kj, yi * (ai - oldAi), yj * (aj - oldAj));
    const wasUpperI = status[i] === UPPER;
    const wasUpperJ = status[j] === UPPER;
    refresh(s, i);
    refresh(s, j);
    if (wasUpperI !== (status[i] === UPPER)) updateGbar(s, rows.row(i), (wasUpperI ? -Ci : Ci) * yi);
    if (wasUpperJ !== (status[j] === UPPER)) updateGbar(s, rows.row(j), (wasUpperJ ? -Cj : Cj) * yj);
  }
  const hitLimit = iter >= maxIter;
  if (hitLimit && s.active < l) {
    reconstructGradient(s);
    s.active = l;
  }
  let ub = Infinity;
  let lb = -Infinity;
  let nFree = 0;
  let sumFree = 0;
  for (let p = 0; p < s.active; p++) {
    const v = yG[p]!;
    if (status[p] === UPPER) {
      if (ys[p]! < 0) ub = Math.min(ub, v);
      else lb = Math.max(lb, v);
    } else if (status[p] === LOWER) {
      if (ys[p]! > 0) ub = Math.min(ub, v);
      else lb = Math.max(lb, v);
    } else {
      nFree++;
      sumFree += v;
    }
  }
  const rho = nFree > 0 ? sumFree / nFree : (ub + lb) / 2;
  let obj = 0;
  const out = new Float64Array(l);
  for (let p = 0; p < l; p++) {
    obj += alpha[p]! * (ys[p]! * yG[p]! - 1);
    out[sample[p]!] = alpha[p]!;
  }
  return { alpha: out, rho, iterations: iter, objective: obj / 2, hitLimit };
}
