import type { SubKernel } from './kernel.ts';

/**
 * libsvm's SMO solver for the C-SVC dual (Fan, Chen and Lin, JMLR 6 (2005) 1889-1918):
 *
 *   min 0.5 a^T Q a - e^T a   subject to   y^T a = 0,  0 <= a_t <= C_t,   Q_st = y_s y_t K_st
 *
 * with the second-order working-set selection (WSS3), libsvm's shrinking and unshrinking,
 * its gradient reconstruction, stopping rule (max violation < eps) and rho. State is kept
 * by sample; `order` plays the part of libsvm's swapped arrays so that the scans visit
 * samples in libsvm's order.
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

export function solveSmo(y: Int8Array, Q: SubKernel, Cp: number, Cn: number, options: SmoOptions): SmoResult {
  const l = y.length;
  const eps = options.eps;
  const ys = Float64Array.from(y);
  const C = new Float64Array(l);
  for (let t = 0; t < l; t++) C[t] = y[t]! > 0 ? Cp : Cn;
  const alpha = new Float64Array(l);
  const G = new Float64Array(l).fill(-1);
  const Gbar = new Float64Array(l);
  const status = new Uint8Array(l); // all LOWER: alpha starts at 0
  const order = new Int32Array(l);
  for (let t = 0; t < l; t++) order[t] = t;
  const QD = Q.diag;
  let active = l;
  let unshrink = false;

  const updateStatus = (t: number) => {
    status[t] = alpha[t]! >= C[t]! ? UPPER : alpha[t]! <= 0 ? LOWER : FREE;
  };
  const swap = (p: number, q: number) => {
    const t = order[p]!;
    order[p] = order[q]!;
    order[q] = t;
  };

  const reconstructGradient = () => {
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
  };

  let outI = -1;
  let outJ = -1;
  /** WSS3; false when optimal within eps. */
  const selectWorkingSet = (): boolean => {
    let Gmax = -Infinity;
    let Gmax2 = -Infinity;
    let GmaxIdx = -1;
    let GminIdx = -1;
    let objMin = Infinity;
    for (let p = 0; p < active; p++) {
      const t = order[p]!;
      if (ys[t]! > 0) {
        if (status[t] !== UPPER && -G[t]! >= Gmax) {
          Gmax = -G[t]!;
          GmaxIdx = t;
        }
      } else if (status[t] !== LOWER && G[t]! >= Gmax) {
        Gmax = G[t]!;
        GmaxIdx = t;
      }
    }
    const i = GmaxIdx;
    const Ki = i !== -1 ? Q.row(i) : undefined;
    const QDi = i !== -1 ? QD[i]! : 0;
    for (let p = 0; p < active; p++) {
      const j = order[p]!;
      let gradDiff: number;
      if (ys[j]! > 0) {
        if (status[j] === LOWER) continue;
        gradDiff = Gmax + G[j]!;
        if (G[j]! >= Gmax2) Gmax2 = G[j]!;
      } else {
        if (status[j] === UPPER) continue;
        gradDiff = Gmax - G[j]!;
        if (-G[j]! >= Gmax2) Gmax2 = -G[j]!;
      }
      if (gradDiff > 0) {
        // QD_i + QD_j - 2 y_i Q_ij, and y_i Q_ij = y_j K_ij; the sign works out the same for both y_j.
        const quad = QDi + QD[j]! - 2 * Ki![j]!;
        const objDiff = -(gradDiff * gradDiff) / (quad > 0 ? quad : TAU);
        if (objDiff <= objMin) {
          GminIdx = j;
          objMin = objDiff;
        }
      }
    }
    if (Gmax + Gmax2 < eps || GminIdx === -1) return false;
    outI = GmaxIdx;
    outJ = GminIdx;
    return true;
  };

  const beShrunk = (t: number, Gmax1: number, Gmax2: number): boolean => {
    if (status[t] === UPPER) return ys[t]! > 0 ? -G[t]! > Gmax1 : -G[t]! > Gmax2;
    if (status[t] === LOWER) return ys[t]! > 0 ? G[t]! > Gmax2 : G[t]! > Gmax1;
    return false;
  };

  const doShrinking = () => {
    let Gmax1 = -Infinity;
    let Gmax2 = -Infinity;
    for (let p = 0; p < active; p++) {
      const t = order[p]!;
      if (ys[t]! > 0) {
        if (status[t] !== UPPER && -G[t]! >= Gmax1) Gmax1 = -G[t]!;
        if (status[t] !== LOWER && G[t]! >= Gmax2) Gmax2 = G[t]!;
      } else {
        if (status[t] !== UPPER && -G[t]! >= Gmax2) Gmax2 = -G[t]!;
        if (status[t] !== LOWER && G[t]! >= Gmax1) Gmax1 = G[t]!;
      }
    }
    if (!unshrink && Gmax1 + Gmax2 <= eps * 10) {
      unshrink = true;
      reconstructGradient();
      active = l;
    }
    for (let p = 0; p < active; p++) {
      if (!beShrunk(order[p]!, Gmax1, Gmax2)) continue;
      active--;
      while (active > p) {
        if (!beShrunk(order[active]!, Gmax1, Gmax2)) {
          swap(p, active);
          break;
        }
        active--;
      }
    }
  };

  const maxIter = options.maxIter ?? Math.max(10_000_000, 100 * l);
  let iter = 0;
  let counter = Math.min(l, 1000) + 1;
  while (iter < maxIter) {
    if (--counter === 0) {
      counter = Math.min(l, 1000);
      if (options.shrinking) doShrinking();
    }
    if (!selectWorkingSet()) {
      reconstructGradient();
      active = l;
      if (!selectWorkingSet()) break;
      counter = 1; // shrink at the next iteration
    }
    iter++;
    const i = outI;
    const j = outJ;
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
    // G_t += Q_it dA_i + Q_jt dA_j
    const ci = yi * (ai - oldAi);
    const cj = yj * (aj - oldAj);
    for (let p = 0; p < active; p++) {
      const t = order[p]!;
      G[t]! += ys[t]! * (ci * Ki[t]! + cj * Kj[t]!);
    }
    const wasUpperI = status[i] === UPPER;
    const wasUpperJ = status[j] === UPPER;
    updateStatus(i);
    updateStatus(j);
    if (wasUpperI !== (status[i] === UPPER)) {
      const row = Q.row(i);
      const s = (wasUpperI ? -Ci : Ci) * yi;
      for (let t = 0; t < l; t++) Gbar[t]! += s * ys[t]! * row[t]!;
    }
    if (wasUpperJ !== (status[j] === UPPER)) {
      const row = Q.row(j);
      const s = (wasUpperJ ? -Cj : Cj) * yj;
      for (let t = 0; t < l; t++) Gbar[t]! += s * ys[t]! * row[t]!;
    }
  }
  const hitLimit = iter >= maxIter;
  if (hitLimit && active < l) {
    reconstructGradient();
    active = l;
  }
  // rho
  let ub = Infinity;
  let lb = -Infinity;
  let nFree = 0;
  let sumFree = 0;
  for (let p = 0; p < active; p++) {
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
