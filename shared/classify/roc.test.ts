import { describe, expect, it } from 'vitest';
import { computeMetrics } from './metrics.ts';
import { MAX_POINTS, rocCurves } from './roc.ts';

describe('ROC curves per class', () => {
  it('gives scikit-learn roc_curve points (drop_intermediate=False), the AUC and the operating point', () => {
    // roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]): fpr [0, 0, 0.5, 0.5, 1], tpr [0, 0.5, 0.5, 1, 1]
    const truth = [0, 0, 1, 1];
    const s1 = [0.1, 0.4, 0.35, 0.8];
    const scores = Float64Array.from(s1.flatMap((s) => [-s, s]));
    const predicted = [0, 1, 0, 1];
    const [c0, c1] = rocCurves(truth, scores, predicted, ['a', 'b'], 0.38);
    expect(c1!.points).toEqual([
      [0, 0],
      [0, 0.5],
      [0.5, 0.5],
      [0.5, 1],
      [1, 1],
    ]);
    expect(c1!.auc).toBe(0.75);
    expect(c1!.operatingPoint).toEqual({ fpr: 0.5, tpr: 0.5, threshold: 0.38 });
    expect(c0!.auc).toBe(0.75);
    expect(c0!.operatingPoint).toEqual({ fpr: 0.5, tpr: 0.5, threshold: null });
  });

  it('moves tied scores together, agrees with the AUC of the metrics, and keeps at most MAX_POINTS points', () => {
    const m = 1000;
    const truth = Int32Array.from({ length: m }, (_, i) => i % 3);
    const scores = Float64Array.from({ length: m * 3 }, (_, j) => Math.round(((Math.sin(j * 12.9898) * 43758.5453) % 1) * 50) / 50 + (j % 3 === truth[Math.floor(j / 3)] ? 0.3 : 0));
    const predicted = Int32Array.from({ length: m }, (_, i) => [0, 1, 2].reduce((b, c) => (scores[i * 3 + c]! > scores[i * 3 + b]! ? c : b), 0));
    const metrics = computeMetrics(truth, { k: 3, predicted, scores, probabilities: null }, ['x', 'y', 'z']);
    const curves = rocCurves(truth, scores, predicted, ['x', 'y', 'z']);
    curves.forEach((c, i) => {
      expect(c.auc).toBeCloseTo(metrics.aucPerClass[i]!, 12);
      expect(c.points.length).toBeLessThanOrEqual(MAX_POINTS);
      expect(c.points[0]).toEqual([0, 0]);
      expect(c.points.at(-1)).toEqual([1, 1]);
      for (let p = 1; p < c.points.length; p++) {
        expect(c.points[p]![0]).toBeGreaterThanOrEqual(c.points[p - 1]![0]);
        expect(c.points[p]![1]).toBeGreaterThanOrEqual(c.points[p - 1]![1]);
      }
      expect(c.operatingPoint.tpr).toBeCloseTo(metrics.perClass[i]!.recall, 6);
    });
  });
});
