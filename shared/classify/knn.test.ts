import { describe, expect, it } from 'vitest';
import { distanceOf, evaluateKnn, type KnnMetric, type KnnWeights } from './knn.ts';
import { matrix } from './linalg.ts';
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
  ] as [KnnMetric, KnnWeights][])('float32 screening gives the same bits as exact float64 distances (%s, %s)', (metric, weights) => {
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
    const screened = evaluateKnn(model, X);
    const plain = evaluateKnn(model, X, false);
    expect(Array.from(screened.scores)).toEqual(Array.from(plain.scores));
    expect(Array.from(screened.predicted)).toEqual(Array.from(plain.predicted));
  });
});
