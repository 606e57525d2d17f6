import { describe, expect, it } from 'vitest';
import { gramData, OnDemandKernel, precomputedKernel } from './kernel.ts';
import { matrix } from './linalg.ts';
import { multiclassProbability, pairwiseToProbabilities, sigmoidTrain } from './platt.ts';
import { createRng } from './prng.ts';
import { buildSvmModel, evaluateSvm, ovrScores, solveOneVsOne, svmDecision, type SvmSettings } from './svm.ts';

// A small three-class problem and scikit-learn 1.2.1's answers on it (SVC(C=1, gamma=0.5),
// computed once with Debian's /usr/bin/python3). libsvm caches kernel values in float32 and
// stops at a tolerance of 1e-3, so decision values agree to about 1e-3, not exactly.
const X = matrix(
  30,
  2,
  Float64Array.from(
    [
      [3.289, 0.437], [1.596, -1.863], [1.223, -0.355], [1.417, -0.627], [1.456, -0.477], [0.186, 0.885], [2.381, 1.71], [1.55, -0.405],
      [0.955, -1.546], [2.482, -1.101], [0.315, -0.206], [2.986, 0.237], [-2.024, 0.287], [-0.375, 0.839], [-1.769, 0.77], [-0.255, 2.976],
      [-2.244, 0.374], [-1.804, -1.419], [-1.924, -0.024], [0.124, 0.868], [-2.623, 1.647], [-1.356, -0.743], [-0.597, -2.089], [-0.874, -1.47],
      [-2.248, -1.768], [1.013, -0.647], [1.108, -0.381], [1.488, -2.618], [0.846, -3.361], [-0.603, -3.414],
    ].flat(),
  ),
);
const y = Int32Array.from([...new Array(12).fill(0), ...new Array(10).fill(1), ...new Array(8).fill(2)]);
const T = matrix(5, 2, Float64Array.from([0, 0, 1, 1, -1, 0.5, 0.5, -2, 2, 0.3]));
const all = Int32Array.from({ length: 30 }, (_, i) => i);

const expected = {
  rbf: {
    support: [0, 1, 2, 5, 6, 7, 8, 9, 10, 13, 15, 16, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29],
    nSupport: [9, 7, 8],
    intercept: [-0.07308639722569521, 0.13946113095880752, 0.013394100912712521],
    ovo: [
      [0.07886693362366726, 0.8896566581738838, 0.2676820441195916],
      [0.23795631324995692, 0.9461176531116777, 0.3415405878233209],
      [-1.0446429924176834, 0.4546079364701498, 1.0387260914982843],
      [0.5718558081748674, 0.11346810685955727, -1.1450341759881828],
      [0.9381482990816676, 0.9698761282988279, -0.421503823310624],
    ],
    ovr: [
      [2.164001690714333, 1.0529421014332943, -0.17882197497362595],
      [2.180713349547427, 1.0312872268298703, -0.1876239229989054],
      [0.8763056504654819, 2.225226478700806, -0.19964353100671406],
      [2.135547417902041, -0.21064403222936606, 1.1692563001525687],
      [2.2187079779907735, -0.19206957238733882, 0.8819465010188271],
    ],
    predicted: [0, 0, 1, 0, 0],
  },
  linear: {
    support: [1, 3, 5, 8, 10, 13, 17, 19, 21, 23, 24, 25, 26, 27, 28],
    nSupport: [5, 4, 6],
    intercept: [-0.10154173798273367, 0.4460256268872895, 0.10593138150716609],
    ovo: [
      [-0.10154173798273367, 0.4460256268872895, 0.10593138150716609],
      [0.2797121888465737, 1.6947454825525747, 0.6092270585170577],
      [-1.4162652050516247, 0.08949547082414694, 1.2782217319810185],
      [1.6448677924978932, -0.4165972779503027, -2.4350641591274615],
      [1.7188982612807426, 1.9323170120020994, -0.78647476228796],
    ],
    ovr: [
      [1.0854067229185942, 2.0572747379468366, -0.1185507513865716],
      [2.2212680864352197, 1.082615315101654, -0.232444682114271],
      [0.809926796119917, 2.2431088071637912, -0.1925507546797615],
      [1.1837404849080106, -0.2677156564613663, 2.246790593588733],
      [2.2616674753267083, -0.23824121871610557, 0.8220058270256067],
    ],
    predicted: [1, 0, 1, 2, 0],
  },
};

const settings = (kernel: 'rbf' | 'linear', shrinking = true): SvmSettings => ({ kernel, C: 1, gamma: 0.5, classWeight: null, probability: false, shrinking, tol: 1e-3 });

describe('SVC against scikit-learn', () => {
  for (const kernel of ['rbf', 'linear'] as const) {
    for (const shrinking of [true, false]) {
      it(`${kernel} kernel${shrinking ? '' : ', no shrinking'}: support vectors, intercepts, decision values, votes`, () => {
        const s = settings(kernel, shrinking);
        const pairs = solveOneVsOne(precomputedKernel(gramData(X), kernel, 0.5), y, 3, all, s, null);
        const model = buildSvmModel(X, y, 3, pairs, s);
        const e = expected[kernel];
        expect(Array.from(model.nSupport)).toEqual(e.nSupport);
        const sv = Array.from({ length: model.supportVectors.rows }, (_, r) => Array.from(model.supportVectors.data.subarray(r * 2, r * 2 + 2)));
        expect(sv).toEqual(e.support.map((i) => Array.from(X.data.subarray(i * 2, i * 2 + 2))));
        const digits = kernel === 'rbf' ? 3 : 2;
        model.intercept.forEach((v, p) => expect(v).toBeCloseTo(e.intercept[p]!, digits));
        const dec = svmDecision(model, T);
        e.ovo.flat().forEach((v, i) => expect(dec[i]).toBeCloseTo(v, digits));
        ovrScores(dec, 5, 3).forEach((v, i) => expect(v).toBeCloseTo(e.ovr.flat()[i]!, digits));
        expect(Array.from(evaluateSvm(model, T).predicted)).toEqual(e.predicted);
      });
    }
  }

  it('kernel rows computed on demand give the same model as a precomputed matrix', () => {
    const s = settings('rbf');
    const a = solveOneVsOne(precomputedKernel(gramData(X), 'rbf', 0.5), y, 3, all, s, null);
    const b = solveOneVsOne(new OnDemandKernel(X, 'rbf', 0.5), y, 3, all, s, null);
    expect(b.map((p) => [p.rho, Array.from(p.coef)])).toEqual(a.map((p) => [p.rho, Array.from(p.coef)]));
  });

  it('class weights scale C per class, as libsvm -wi', () => {
    const plain = solveOneVsOne(precomputedKernel(gramData(X), 'linear', 0), y, 3, all, settings('linear'), null);
    const weighted = solveOneVsOne(precomputedKernel(gramData(X), 'linear', 0), y, 3, all, { ...settings('linear'), classWeight: Float64Array.from([1, 1, 0.01]) }, null);
    // Class 2's coefficients are capped at C * 0.01.
    const pair02 = weighted[1]!;
    pair02.coef.forEach((c, t) => {
      if (y[pair02.idx[t]!] === 2) expect(Math.abs(c)).toBeLessThanOrEqual(0.01 + 1e-12);
    });
    expect(weighted[0]!.rho).toBe(plain[0]!.rho);
  });
});

describe('Platt scaling and coupling', () => {
  it('fits a sigmoid that orders as the decision values do', () => {
    const dec = Float64Array.from([-2, -1.5, -1, -0.2, 0.1, 0.3, 1, 1.2, 2, -0.5]);
    const labels = Int8Array.from([-1, -1, -1, -1, 1, -1, 1, 1, 1, 1]);
    const { A, B } = sigmoidTrain(dec, labels);
    expect(A).toBeLessThan(0);
    expect(Number.isFinite(B)).toBe(true);
  });

  it('couples pairwise probabilities into a distribution', () => {
    const r = Float64Array.from([0, 0.9, 0.8, 0.1, 0, 0.6, 0.2, 0.4, 0]);
    const p = multiclassProbability(3, r);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(p[0]).toBeGreaterThan(p[1]!);
    expect(p[0]).toBeGreaterThan(p[2]!);
    const two = new Float64Array(2);
    pairwiseToProbabilities(2, [0.5], Float64Array.from([-2]), Float64Array.from([0]), two);
    expect(two[0]! + two[1]!).toBeCloseTo(1, 15);
    expect(two[0]).toBeGreaterThan(0.5);
  });

  it('gives calibrated probabilities that sum to 1 and are repeatable for a seed', () => {
    const s = { ...settings('rbf'), probability: true };
    const fit = (seed: number) => buildSvmModel(X, y, 3, solveOneVsOne(precomputedKernel(gramData(X), 'rbf', 0.5), y, 3, all, s, createRng(seed)), s);
    const e = evaluateSvm(fit(7), T);
    for (let i = 0; i < 5; i++) expect(e.probabilities!.subarray(i * 3, i * 3 + 3).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(Array.from(evaluateSvm(fit(7), T).probabilities!)).toEqual(Array.from(e.probabilities!));
  });
});
