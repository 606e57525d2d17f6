import { describe, expect, it } from 'vitest';
import { evaluateKnn, type KnnMetric } from '../../shared/classify/knn.ts';
import { matrix } from '../../shared/classify/linalg.ts';
import { createRng } from '../../shared/classify/prng.ts';
import { evaluateKnnThreads } from './knn_threads.ts';

describe('KNN on several threads', () => {
  it.each(['euclidean', 'cosine'] as KnnMetric[])('gives the same bits as one thread, on the screened path and below it (%s)', async (metric) => {
    const rng = createRng(5);
    const n = 300;
    const d = 300;
    const samples = matrix(n, d, Float64Array.from({ length: n * d }, () => rng.next() * 2 - 1));
    const targets = Int32Array.from({ length: n }, () => Math.floor(rng.next() * 4));
    const model = { k: 5, metric, weights: 'distance' as const, nClasses: 4, samples, targets };
    for (const rows of [10, 101, 250]) {
      const X = matrix(rows, d, Float64Array.from({ length: rows * d }, () => rng.next() * 2 - 1));
      const one = evaluateKnn(model, X);
      for (const threads of [2, 3]) {
        const many = await evaluateKnnThreads(model, X, threads);
        expect(Array.from(many.predicted)).toEqual(Array.from(one.predicted));
        expect(Array.from(many.scores)).toEqual(Array.from(one.scores));
      }
      // a second call reuses the helpers and the shared training set
      expect(Array.from((await evaluateKnnThreads(model, X, 2)).scores)).toEqual(Array.from(one.scores));
    }
  }, 120_000);
});
