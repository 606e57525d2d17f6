import { describe, expect, it } from 'vitest';
import { distanceOf, evaluateKnn, screenStats, type KnnMetric, type KnnWeights } from './knn.ts';
import { screenProducts } from './knn_screen.ts';
import { dot, matrix, squaredNorms } from './linalg.ts';
import { createRng } from './prng.ts';

describe('KNN', () => {
  it('votes like scikit-learn: fractions of the k nearest, ties to the lower class, exact matches only when any', () => {
    const samples = matrix(5, 1, Float64Array.from([0, 1, 2, 10, 11]));
    const targets = Int32Array.from([0, 1, 1, 2, 2]);
    const X = matrix(2, 1, Float64Array.from([1, 10.4]));
    const uniform = evaluateKnn({ k: 3, metric: 'euclidean', weights: 'uniform', nClasses: 3, samples, targets }, X);
    expect(Array.from(uniform.scores)).toEqual([1 / 3, 2 / 3, 0, 0, 1 / 3, 2 / 3]);
    expect(Array.from(uniform.predicted)).toEqual([1, 2]);
    const weighted = evaluateKnn({ k: 3, metric: 'euclidean', weights: 'distance', nClasses: 3, samples, targets }, X);
    expect(Array.from(weighted.scores.subarray(0, 3))).toEqual([0, 1, 0]); // distance 0 to sample 1
    const tie = evaluateKnn({ k: 2, metric: 'euclidean', weights: 'uniform', nClasses: 3, samples, targets }, matrix(1, 1, Float64Array.from([0.5])));
    expect(Array.from(tie.predicted)).toEqual([0]);
    expect(distanceOf(0, 0, 4, 'cosine')).toBe(1);
  });

  it.each([
    ['euclidean', 'uniform'],
    ['euclidean', 'distance'],
    ['cosine', 'uniform'],
    ['cosine', 'distance'],
  ] as [KnnMetric, KnnWeights][])('the int16 screen gives the same bits as exact float64 distances (%s, %s)', (metric, weights) => {
    const rng = createRng(11);
    const n = 240;
    const d = 300;
    const samples = matrix(n, d, Float64Array.from({ length: n * d }, () => rng.next() * 2 - 1));
    const X = matrix(60, d, Float64Array.from({ length: 60 * d }, () => rng.next() * 2 - 1));
    // Duplicates and exact matches: equal distances, decided by position.
    for (let i = 0; i < 10; i++) {
      samples.data.copyWithin((i + 100) * d, i * d, (i + 1) * d);
      X.data.set(samples.data.subarray(i * d, (i + 1) * d), i * d);
    }
    const model = { k: 7, metric, weights, nClasses: 4, samples, targets: Int32Array.from({ length: n }, () => rng.int(4)) };
    // An outlier feature: a large scale for one row's int16 steps (its bound widens, not breaks).
    samples.data[5 * d + 3] = 40;
    X.data[20 * d + 7] = -55;
    // Zero vectors: a scale of 0, and cosine's distance 1 from everything.
    samples.data.fill(0, 50 * d, 51 * d);
    X.data.fill(0, 30 * d, 31 * d);
    Object.assign(screenStats, { rows: 0, candidates: 0 });
    const screened = evaluateKnn(model, X);
    // the screen ran, and it kept far fewer than every sample for exact distances
    expect(screenStats.rows).toBe(60);
    expect(screenStats.candidates).toBeLessThan((60 * n) / 4);
    const plain = evaluateKnn(model, X, false);
    expect(Array.from(screened.scores)).toEqual(Array.from(plain.scores));
    expect(Array.from(screened.predicted)).toEqual(Array.from(plain.predicted));
  });

  it('bounds the int16 products: |alpha_a alpha_b (q_a.q_b) - a.b| <= |a^| |e_b| + |e_a| |b|, on every pair', () => {
    const rng = createRng(5);
    const [n, m, d] = [50, 20, 1777];
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    const S = matrix(n, d, Float64Array.from({ length: n * d }, gauss));
    const X = matrix(m, d, Float64Array.from({ length: m * d }, (_, i) => (i % 97 === 0 ? 30 * gauss() : gauss())));
    const p = screenProducts(X, S, squaredNorms(S))!;
    expect(p).not.toBeNull();
    let worst = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const exact = dot(X.data, i * d, S.data, j * d, d);
        const approx = p.x.alpha[i]! * (p.s.alpha[j]! * p.ints[i * n + j]!);
        const bound = p.x.norm[i]! * p.s.error[j]! + p.x.error[i]! * Math.sqrt(dot(S.data, j * d, S.data, j * d, d));
        expect(Math.abs(approx - exact)).toBeLessThanOrEqual(bound);
        worst = Math.max(worst, Math.abs(approx - exact) / bound);
      }
    }
    // the bound is not vacuous: errors use a fair part of it
    expect(worst).toBeGreaterThan(0.01);
  });
});
