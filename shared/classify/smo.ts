import type { SubKernel } from './kernel.ts';

/**
 * libsvm's SMO solver for the C-SVC dual (Fan, Chen and Lin, JMLR 6 (2005) 1889-1918):
 *
 *   min 0.5 a^T Q a - e^T a   subject to   y^T a = 0,  0 <= a_t <= C_t,   Q_st = y_s y_t K_st
 *
 * with the second-order working-set selection (WSS3), libsvm's shrinking and unshrinking,
 * its gradient reconstruction, stopping rule (maximal violation < eps) and rho. State is
 * kept by sample; `order` plays the part of libsvm's swapped arrays so that every scan
 * visits the samples in libsvm's order.
 */
export interface SmoOptions {
  /** Stopping tolerance on the maximal violating pair (libsvm -e, scikit-learn tol). */
  eps: number;
  shrinking: boolean;
  maxIter?: number;
}

export interface SmoResult {
  /** The dual variables, 0 <= alpha_t <= C_t. */
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

/** The solver's arrays, all indexed by sample; `order[p]` is the sample at libsvm position p. */
interface State {
  l: number;
  ys: Float64Array;
  C: Float64Array;
  alpha: Float64Array;
  G: Float64Array;
  Gbar: Float64Array;
  status: Uint8Array;
  order: Int32Array;
  QD: Float64Array;
  Q: SubKernel;
  active: number;
  unshrink: boolean;
  eps: number;
}

function reconstructGradient(s: State): void {
  const { l, order, G, Gbar, status, alpha, ys, Q } = s;
  const active = s.active;
  if (active === l) return;
  for (let p = active; p < l; p++) {
    const t = order[p]!;
    G[t] = Gbar[t]! - 1;
  }
  for (let p = 0; p < active; p++) {
    const i = order[p]!;
    if (status[i] !== FREE) continue;
    const Ki = Q.row(i);
    const a = alpha[i]! * ys[i]!;
    for (let q = active; q < l; q++) {
      const t = order[q]!;
      G[t]! += a * ys[t]! * Ki[t]!;
    }
  }
}

/** WSS3. Writes the pair to out and returns true, or returns false when optimal within eps. */
function selectWorkingSet(s: State, out: Int32Array): boolean {
  const { order, G, status, ys, QD, Q, eps } = s;
  const active = s.active;
  let Gmax = -Infinity;
  let Gmax2 = -Infinity;
  let GmaxIdx = -1;
  let GminIdx = -1;
  let objMin = Infinity;
  for (let p = 0; p < active; p++) {
    const t = order[p]!;
    const g = G[t]!;
    if (ys[t]! > 0) {
      if (status[t] !== UPPER && -g >= Gmax) {
        Gmax = -g;
        GmaxIdx = t;
      }
    } else if (status[t] !== LOWER && g >= Gmax) {
      Gmax = g;
      GmaxIdx = t;
    }
  }
  if (GmaxIdx === -1) return false;
  const Ki = Q.row(GmaxIdx);
  const QDi = QD[GmaxIdx]!;
  for (let p = 0; p < active; p++) {
    const j = order[p]!;
    const g = G[j]!;
    let gradDiff: number;
    if (ys[j]! > 0) {
      if (status[j] === LOWER) continue;
      gradDiff = Gmax + g;
      if (g >= Gmax2) Gmax2 = g;
    } else {
      if (status[j] === UPPER) continue;
      gradDiff = Gmax - g;
      if (-g >= Gmax2) Gmax2 = -g;
    }
    if (gradDiff > 0) {
      // QD_i + QD_j - 2 y_i Q_ij, and y_i Q_ij = y_j K_ij: the same expression for either y_j.
      const quad = QDi + QD[j]! - 2 * Ki[j]!;
      const objDiff = -(gradDiff * gradDiff) / (quad > 0 ? quad : TAU);
      if (objDiff <= objMin) {
        GminIdx = j;
        objMin = objDiff;
      }
    }
  }
  if (Gmax + Gmax2 < eps || GminIdx === -1) return false;
  out[0] = GmaxIdx;
  out[1] = GminIdx;
  return true;
}

function beShrunk(s: State, t: number, Gmax1: number, Gmax2: number): boolean {
  const st = s.status[t];
  const g = s.G[t]!;
  if (st === UPPER) return s.ys[t]! > 0 ? -g > Gmax1 : -g > Gmax2;
  if (st === LOWER) return s.ys[t]! > 0 ? g > Gmax2 : g > Gmax1;
  return false;
}

function doShrinking(s: State): void {
  const { order, G, status, ys } = s;
  let Gmax1 = -Infinity;
  let Gmax2 = -Infinity;
  for (let p = 0; p < s.active; p++) {
    const t = order[p]!;
    const g = G[t]!;
    if (ys[t]! > 0) {
      if (status[t] !== UPPER && -g >= Gmax1) Gmax1 = -g;
      if (status[t] !== LOWER && g >= Gmax2) Gmax2 = g;
    } else {
      if (status[t] !== UPPER && -g >= Gmax2) Gmax2 = -g;
      if (status[t] !== LOWER && g >= Gmax1) Gmax1 = g;
    }
  }
  if (!s.unshrink && Gmax1 + Gmax2 <= s.eps * 10) {
    s.unshrink = true;
    reconstructGradient(s);
    s.active = s.l;
  }
  let active = s.active;
  for (let p = 0; p < active; p++) {
    if (!beShrunk(s, order[p]!, Gmax1, Gmax2)) continue;
    active--;
    while (active > p) {
      if (!beShrunk(s, order[active]!, Gmax1, Gmax2)) {
        const t = order[p]!;
        order[p] = order[active]!;
        order[active] = t;
        break;
      }
      active--;
    }
  }
  s.active = active;
}

/** Updates the gradient over the active set: G_t += Q_it dA_i + Q_jt dA_j. */
function updateGradient(s: State, Ki: Float64Array, Kj: Float64Array, ci: number, cj: number): void {
  const { order, G, ys } = s;
  const active = s.active;
  for (let p = 0; p < active; p++) {
    const t = order[p]!;
    G[t]! += ys[t]! * (ci * Ki[t]! + cj * Kj[t]!);
  }
}

function updateGbar(s: State, row: Float64Array, scale: number): void {
  const { l, Gbar, ys } = s;
  for (let t = 0; t < l; t++) Gbar[t]! += scale * ys[t]! * row[t]!;
}

export function solveSmo(y: Int8Array, Q: SubKernel, Cp: number, Cn: number, options: SmoOptions): SmoResult {
  const l = y.length;
  const ys = Float64Array.from(y);
  const C = new Float64Array(l);
  for (let t = 0; t < l; t++) C[t] = y[t]! > 0 ? Cp : Cn;
  const order = new Int32Array(l);
  for (let t = 0; t < l; t++) order[t] = t;
  const s: State = {
    l,
    ys,
    C,
    alpha: new Float64Array(l),
    G: new Float64Array(l).fill(-1),
    Gbar: new Float64Array(l),
    status: new Uint8Array(l), // all at the lower bound: alpha starts at 0
    order,
    QD: Q.diag,
    Q,
    active: l,
    unshrink: false,
    eps: options.eps,
  };
  const { alpha, G, status, QD } = s;
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
    const Ki = Q.row(i);
    const Kj = Q.row(j);
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
      const delta = (-G[i]! - G[j]!) / quad;
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
      const delta = (G[i]! - G[j]!) / quad;
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
    updateGradient(s, Ki, Kj, yi * (ai - oldAi), yj * (aj - oldAj));
    const wasUpperI = status[i] === UPPER;
    const wasUpperJ = status[j] === UPPER;
    status[i] = ai >= Ci ? UPPER : ai <= 0 ? LOWER : FREE;
    status[j] = aj >= Cj ? UPPER : aj <= 0 ? LOWER : FREE;
    if (wasUpperI !== (status[i] === UPPER)) updateGbar(s, Q.row(i), (wasUpperI ? -Ci : Ci) * yi);
    if (wasUpperJ !== (status[j] === UPPER)) updateGbar(s, Q.row(j), (wasUpperJ ? -Cj : Cj) * yj);
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
    const t = order[p]!;
    const yG = ys[t]! * G[t]!;
    if (status[t] === UPPER) {
      if (ys[t]! < 0) ub = Math.min(ub, yG);
      else lb = Math.max(lb, yG);
    } else if (status[t] === LOWER) {
      if (ys[t]! > 0) ub = Math.min(ub, yG);
      else lb = Math.max(lb, yG);
    } else {
      nFree++;
      sumFree += yG;
    }
  }
  const rho = nFree > 0 ? sumFree / nFree : (ub + lb) / 2;
  let v = 0;
  for (let t = 0; t < l; t++) v += alpha[t]! * (G[t]! - 1);
  return { alpha, rho, iterations: iter, objective: v / 2, hitLimit };
}
