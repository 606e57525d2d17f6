import { describe, expect, it } from 'vitest';
import { accuracy, balancedAccuracy, classAucs, computeMetrics, confusionMatrix, rocAuc } from './metrics.ts';

// Expected values computed once with scikit-learn 1.2.1 (Debian's /usr/bin/python3):
// roc_auc_score, accuracy_score, balanced_accuracy_score, confusion_matrix and
// precision_recall_fscore_support(zero_division=0), on the inputs written here.
describe('metrics against scikit-learn', () => {
  it('binary ROC AUC with tied scores', () => {
    const y = [0, 0, 1, 1, 0, 1, 1, 0, 1, 0];
    const s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.9, 0.2, 0.35, 0.6];
    expect(rocAuc(y.map((v) => v === 1), s)).toBeCloseTo(0.68, 12);
    // A constant score is a coin toss; one class only has no AUC.
    expect(rocAuc([true, false, true], [1, 1, 1])).toBe(0.5);
    expect(rocAuc([true, true], [0.2, 0.3])).toBeNull();
  });

  const yt = [0, 1, 2, 2, 1, 0, 2, 1, 0, 2, 1, 1];
  const yp = [0, 1, 2, 1, 1, 0, 2, 2, 2, 2, 0, 1];
  const S = Float64Array.from(
    [
      [0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6], [0.3, 0.3, 0.4], [0.4, 0.4, 0.2], [0.5, 0.3, 0.2],
      [0.2, 0.2, 0.6], [0.1, 0.6, 0.3], [0.3, 0.3, 0.4], [0.25, 0.25, 0.5], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3],
    ].flat(),
  );

  it('multi-class one-vs-rest macro AUC', () => {
    const { auc, perClass } = classAucs(yt, S, 3);
    expect(auc).toBeCloseTo(0.9325341710758378, 12);
    expect(perClass[0]).toBeCloseTo(0.8703703703703705, 12);
    expect(perClass[1]).toBeCloseTo(0.9428571428571428, 12);
    expect(perClass[2]).toBeCloseTo(0.984375, 12);
  });

  it('accuracy, balanced accuracy, confusion matrix, per-class scores', () => {
    expect(accuracy(yt, yp)).toBeCloseTo(0.6666666666666666, 14);
    expect(balancedAccuracy(yt, yp, 3)).toBeCloseTo(0.6722222222222222, 14);
    expect(confusionMatrix(yt, yp, 3)).toEqual([
      [2, 0, 1],
      [1, 3, 1],
      [0, 1, 3],
    ]);
    const m = computeMetrics(yt, { k: 3, predicted: Int32Array.from(yp), scores: S, probabilities: null }, ['a', 'b', 'c']);
    const expected = [
      [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 3],
      [0.75, 0.6, 0.6666666666666665, 5],
      [0.6, 0.75, 0.6666666666666665, 4],
    ];
    m.perClass.forEach((c, i) => {
      const [p, r, f, s] = expected[i]!;
      expect(c.precision).toBeCloseTo(p!, 12);
      expect(c.recall).toBeCloseTo(r!, 12);
      expect(c.f1).toBeCloseTo(f!, 12);
      expect(c.support).toBe(s);
    });
    expect(m.n).toBe(12);
    expect(m.labels).toEqual(['a', 'b', 'c']);
  });

  it('a class never predicted scores 0 (zero_division=0); balanced accuracy averages the classes present', () => {
    const m = computeMetrics([0, 0, 1, 1, 1, 0], { k: 2, predicted: new Int32Array(6), scores: new Float64Array(12), probabilities: null }, ['0', '1']);
    expect(m.balancedAccuracy).toBe(0.5);
    expect(m.perClass.map((c) => [c.precision, c.recall, c.f1])).toEqual([
      [0.5, 1, expect.closeTo(0.6666666666666666, 12)],
      [0, 0, 0],
    ]);
    // Truth holds classes 0 and 2 of 3: scikit-learn's balanced_accuracy_score gives 0.5833...
    expect(balancedAccuracy([0, 2, 2, 0, 2], [0, 1, 2, 2, 2], 3)).toBeCloseTo(0.5833333333333333, 14);
  });
});
