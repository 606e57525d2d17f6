import { beforeAll, describe, expect, it } from 'vitest';
import type { CandidateParams } from '../shared/classify/params.ts';
import { DEFAULT_SETTINGS, trainModel } from '../shared/classify/train.ts';
import { loadSplits, type LoadedSplits } from './classify_data.ts';
import { dataset } from './golden.ts';

/**
 * The scikit-learn 1.2.1 figures of test/data/README.md ("The same features
 * with scikit-learn"): all seven features at size 0, levels 32, z-scored on train, trained
 * on train and scored once on test. An implementation of the same models should land
 * within 0.01 of them.
 */
const SKLEARN = {
  breastmnist: { linear: [0.789, 0.697, 0.778], rbf: [0.808, 0.673, 0.813], knn: [0.763, 0.612, 0.673] },
  retinamnist: { linear: [0.445, 0.277, 0.615], rbf: [0.495, 0.286, 0.657], knn: [0.445, 0.266, 0.608] },
} as const;

const MODELS: Record<'linear' | 'rbf' | 'knn', CandidateParams> = {
  linear: { type: 'svm', kernel: 'linear', C: 1, gamma: { scale: 1 } },
  rbf: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } },
  knn: { type: 'knn', k: 5, metric: 'euclidean', weights: 'uniform' },
};

describe.each(Object.keys(SKLEARN) as (keyof typeof SKLEARN)[])('%s: parity with scikit-learn on test', (name) => {
  let data: LoadedSplits;
  beforeAll(async () => {
    data = await loadSplits(dataset(name));
  }, 60_000);

  it.each(Object.keys(MODELS) as (keyof typeof MODELS)[])('%s', (model) => {
    const out = trainModel(data, { ...DEFAULT_SETTINGS, params: MODELS[model], probability: false });
    const [accuracy, balanced, auc] = SKLEARN[name][model];
    const test = out.test!;
    expect(test.n).toBe(data.test!.y.length);
    expect(Math.abs(test.accuracy - accuracy)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(test.balancedAccuracy - balanced)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(test.auc! - auc)).toBeLessThanOrEqual(0.01);
  });
});
