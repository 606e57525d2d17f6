import { rocAuc } from './metrics.ts';

/** One class's one-vs-rest ROC curve and where the model's decisions put it. */
export interface RocCurve {
  label: string;
  positives: number;
  negatives: number;
  auc: number | null;
  /** [false positive rate, true positive rate] from (0, 0) to (1, 1), one point per distinct score (thinned to at most MAX_POINTS). */
  points: [number, number][];
  /** The rates of the model's own decisions (predicted == this class): its operating point. */
  operatingPoint: { fpr: number; tpr: number; threshold: number | null };
}

/** Points kept per curve: enough to draw, small enough for a report. */
export const MAX_POINTS = 200;

const round = (v: number) => Math.round(v * 1e6) / 1e6;

/**
 * ROC curves per class, one-vs-rest, from the per-class scores (m x k row-major) that the AUC
 * uses, with the operating point of the predictions. `threshold` is the decision threshold
 * on the positive class's score where one was chosen (two classes), shown on that class's curve.
 */
export function rocCurves(yTrue: ArrayLike<number>, scores: Float64Array, predicted: ArrayLike<number>, labels: string[], threshold: number | null = null): RocCurve[] {
  const k = labels.length;
  const m = yTrue.length;
  return labels.map((label, c) => {
    const positive = Array.from({ length: m }, (_, i) => yTrue[i] === c);
    const s = Array.from({ length: m }, (_, i) => scores[i * k + c]!);
    const P = positive.filter(Boolean).length;
    const N = m - P;
    const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => s[b]! - s[a]!);
    const points: [number, number][] = [[0, 0]];
    let tp = 0;
    let fp = 0;
    for (let i = 0; i < m; ) {
      let j = i;
      // tied scores move together: one point per distinct score
      while (j < m && s[order[j]!] === s[order[i]!]) {
        if (positive[order[j]!]) tp++;
        else fp++;
        j++;
      }
      points.push([N ? fp / N : 0, P ? tp / P : 0]);
      i = j;
    }
    let opTp = 0;
    let opFp = 0;
    for (let i = 0; i < m; i++) {
      if (predicted[i] !== c) continue;
      if (positive[i]) opTp++;
      else opFp++;
    }
    return {
      label,
      positives: P,
      negatives: N,
      auc: rocAuc(positive, s),
      points: thin(points).map(([x, y]) => [round(x), round(y)]),
      operatingPoint: { fpr: N ? round(opFp / N) : 0, tpr: P ? round(opTp / P) : 0, threshold: k === 2 && c === 1 ? threshold : null },
    };
  });
}

/** At most MAX_POINTS points, the first and last kept, evenly spaced along the curve. */
function thin(points: [number, number][]): [number, number][] {
  if (points.length <= MAX_POINTS) return points;
  const out: [number, number][] = [];
  const step = (points.length - 1) / (MAX_POINTS - 1);
  for (let i = 0; i < MAX_POINTS; i++) out.push(points[Math.round(i * step)]!);
  return out;
}
