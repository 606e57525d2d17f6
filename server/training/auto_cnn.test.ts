import { describe, expect, it } from 'vitest';
import { bayesThreshold, cnnRoundLines } from './auto_cnn.ts';

describe("the CNN round's operating point and report", () => {
  it("sets the two-class threshold by Bayes's rule from train/'s prior, for each measure and class weighting", () => {
    const y = Int32Array.from([0, 1, 1, 1]);
    expect(bayesThreshold(y, 'balanced', false)).toBe(0.75);
    expect(bayesThreshold(y, 'accuracy', false)).toBe(0.5);
    // probabilities that learnt equal priors (class weights 'balanced')
    expect(bayesThreshold(y, 'balanced', true)).toBe(0.5);
    expect(bayesThreshold(y, 'accuracy', true)).toBe(0.25);
  });

  it('reports the members, why no more were trained, the threshold rule and the finalists', () => {
    const lines = cnnRoundLines({
      on: 'out of fold on train/ (2 of 5 folds, 218 images)',
      alsoOn: 'val/',
      size: 0,
      input: 'pixels',
      by: 'AUC, then balanced accuracy',
      epochs: 30,
      bestEpoch: 17,
      members: [
        { fold: 0, seed: 1, epochs: 30, bestEpoch: 17, ms: 100_000 },
        { fold: 1, seed: 2, epochs: 30, bestEpoch: 15, ms: 100_000 },
      ],
      membersStopped: '2 of 5 members: another would not finish in the budget (50 s left, the last took 100 s)',
      threshold: "0.731 on class 1's probability for the CNN and the ensemble, by Bayes's rule for balanced accuracy (train/'s prior), not fitted",
      ms: 200_000,
      budgetMs: 250_000,
      compared: [
        { candidate: 'features', score: 0.8, auc: 0.9, threshold: 0.47, val: { score: 0.85, auc: 0.91 } },
        { candidate: 'CNN', score: 0.78, auc: 0.88, threshold: 0.731, val: { score: 0.75, auc: null } },
      ],
      ensembleWeight: { chosen: 0.6, tried: [0.4, 0.5, 0.6].map((weight) => ({ weight, score: 0.8, auc: 0.9 })) },
      chosen: 'features',
    });
    expect(lines).toEqual([
      'CNN: 2 members, one per fold of train/ (epochs run (kept): 30 (17), 30 (15)), their probabilities averaged, in 200 s of 250 s, at the kept size on pixels; 2 of 5 members: another would not finish in the budget (50 s left, the last took 100 s)',
      "threshold: 0.731 on class 1's probability for the CNN and the ensemble, by Bayes's rule for balanced accuracy (train/'s prior), not fitted",
      "finalists out of fold on train/ (2 of 5 folds, 218 images) by AUC, then balanced accuracy: features 0.800 (AUC 0.900, threshold 0.47; val/ 0.850, AUC 0.910); CNN 0.780 (AUC 0.880, threshold 0.731; val/ 0.750, AUC -); the ensemble weighs the feature model 0.6 against the CNNs' mean (the best out of fold of 0.4, 0.5, 0.6); chosen: features",
    ]);
  });
});
