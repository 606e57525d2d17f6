import { afterEach, describe, expect, it } from 'vitest';
import { evaluateKnn, type KnnModel } from './knn.ts';
import {
  RESIDENT_BUDGET_BYTES,
  cachedSquaredNorms,
  crossProduct,
  crossProductResident,
  matrix,
  releaseResidentRows,
  residentBytes,
  setProductBackend,
  setResidentBudget,
  squaredNorms,
} from './linalg.ts';
import { createRng } from './prng.ts';
import { svmDecision, type SvmModel } from './svm.ts';

const random = (rows: number, cols: number, seed: number) => {
  const rng = createRng(seed);
  return matrix(rows, cols, Float64Array.from({ length: rows * cols }, () => rng.next() * 2 - 1));
};
const bits = (a: ArrayLike<number>) => Array.from(a, (v) => (Object.is(v, -0) ? '-0' : String(v)));

afterEach(() => releaseResidentRows());

describe('predict-time caches', () => {
  it('resident rows give the same bits as the plain product, call after call and at any batch size', () => {
    for (const [n, d] of [
      [449, 1770],
      [5, 3],
      [64, 129],
      [1, 1],
    ] as const) {
      const B = random(n, d, n + d);
      for (const m of [1, 2, 3, 17, 64, 1]) {
        const A = random(m, d, m * 7 + d);
        const plain = crossProduct(A, B);
        // the first call keeps nothing, the later ones use the resident copy
        expect(bits(crossProductResident(A, B))).toEqual(bits(plain));
        expect(bits(crossProductResident(A, B))).toEqual(bits(plain));
      }
    }
    expect(residentBytes()).toBeGreaterThan(0);
    expect(residentBytes()).toBeLessThanOrEqual(RESIDENT_BUDGET_BYTES);
  });

  it('norms are computed once per matrix and equal squaredNorms', () => {
    const B = random(30, 11, 3);
    const a = cachedSquaredNorms(B);
    expect(cachedSquaredNorms(B)).toBe(a);
    expect(bits(a)).toEqual(bits(squaredNorms(B)));
    // another matrix with the same data array but another shape is not confused with it
    const C = matrix(11, 30, B.data);
    expect(bits(cachedSquaredNorms(C))).toEqual(bits(squaredNorms(C)));
  });

  it('a released resident copy is made again; the JavaScript backend bypasses it', () => {
    const B = random(40, 50, 9);
    const A = random(3, 50, 10);
    const plain = crossProduct(A, B);
    crossProductResident(A, B);
    crossProductResident(A, B);
    releaseResidentRows();
    expect(residentBytes()).toBe(0);
    expect(bits(crossProductResident(A, B))).toEqual(bits(plain));
    expect(residentBytes()).toBeGreaterThan(0);
    setProductBackend('js');
    try {
      expect(bits(crossProductResident(A, B))).toEqual(bits(plain));
    } finally {
      setProductBackend('auto');
    }
  });

  it('keeps resident memory within the budget, least recently used out first', () => {
    const mats = [0, 1, 2].map((i) => random(64, 256, 40 + i));
    const A = random(2, 256, 50);
    crossProductResident(A, mats[0]!);
    crossProductResident(A, mats[0]!);
    const each = residentBytes(); // the rows and the scratch of a 2-row product
    releaseResidentRows();
    setResidentBudget(2 * each);
    try {
      for (const B of mats) {
        crossProductResident(A, B);
        crossProductResident(A, B);
      }
      expect(residentBytes()).toBe(2 * each);
      // the first was pushed out; it comes back (same bits), pushing out the second
      expect(bits(crossProductResident(A, mats[0]!))).toEqual(bits(crossProduct(A, mats[0]!)));
      expect(residentBytes()).toBe(2 * each);
      setResidentBudget(each);
      expect(residentBytes()).toBe(each);
      // a product whose scratch takes the memory past the budget releases its instance after use
      const big = random(600, 256, 51);
      expect(bits(crossProductResident(big, mats[0]!))).toEqual(bits(crossProduct(big, mats[0]!)));
      expect(residentBytes()).toBeLessThanOrEqual(each);
    } finally {
      setResidentBudget();
    }
  });

  it('SVM decisions and KNN votes are the same bits on every call', () => {
    const d = 300;
    const SV = random(60, d, 21);
    const rng = createRng(5);
    const svm: SvmModel = {
      kernel: 'rbf',
      gamma: 1 / d,
      nClasses: 3,
      supportVectors: SV,
      nSupport: Int32Array.from([20, 25, 15]),
      dualCoef: Float64Array.from({ length: 2 * 60 }, () => rng.next() - 0.5),
      intercept: Float64Array.from([0.1, -0.2, 0.05]),
      probA: null,
      probB: null,
    };
    const knn: KnnModel = { k: 5, metric: 'euclidean', weights: 'distance', nClasses: 3, samples: random(400, d, 22), targets: Int32Array.from({ length: 400 }, (_, i) => i % 3) };
    const X = random(40, d, 23);
    const first = svmDecision(svm, X);
    const firstKnn = evaluateKnn(knn, X);
    for (let i = 0; i < 3; i++) {
      expect(bits(svmDecision(svm, X))).toEqual(bits(first));
      expect(bits(svmDecision(svm, matrix(1, d, X.data.slice(d, 2 * d))))).toEqual(bits(first.subarray(3, 6)));
      const again = evaluateKnn(knn, X);
      expect(bits(again.scores)).toEqual(bits(firstKnn.scores));
      expect(bits(evaluateKnn(knn, X, false).scores)).toEqual(bits(firstKnn.scores));
    }
  });
});
