/** What a classifier says about a batch of samples. */
export interface Evaluation {
  /** Number of classes. */
  k: number;
  /** Predicted class index per sample. */
  predicted: Int32Array;
  /**
   * Per-class ranking scores, m x k row-major, for AUC: the SVM decision function (one-vs-rest
   * as scikit-learn's decision_function_shape='ovr'; +-dec for two classes), KNN vote fractions.
   */
  scores: Float64Array;
  /** Per-class probabilities, m x k (SVM Platt + coupling, KNN vote fractions), or null. */
  probabilities: Float64Array | null;
}

/** Index of the first largest value of row i (ties go to the lower class, as numpy's argmax). */
export function argmaxRow(values: Float64Array, i: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (values[i * k + c]! > values[i * k + best]!) best = c;
  return best;
}
