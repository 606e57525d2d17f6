/**
 * What the admin sees of a model version without loading it: classifier, features and the
 * metrics of its training, read once from the model document when the version is stored
 * (and, for versions stored before summaries existed, by the store's migration).
 */
export interface MetricsSummary {
  n: number;
  accuracy: number;
  balancedAccuracy: number;
  auc: number | null;
}

export interface VersionSummary {
  /** The classifier and its settings in words, e.g. `SVM rbf C=1 (gamma 0.0123)`. */
  classifier: string;
  /** The spec's features, in vector order. */
  features: string[];
  /** The spec's image side (0: each image kept at its size). */
  size: number;
  labels: string[];
  /** Images the model was fitted on. */
  trainedOn: number;
  /** On the held-out test split, when the training set had one. */
  test: MetricsSummary | null;
  /** The validation or cross-validation estimate. */
  estimate: (MetricsSummary & { mode: string }) | null;
}

type Loose = Record<string, unknown> | undefined;
const obj = (v: unknown): Loose => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);

function metrics(v: unknown): MetricsSummary | null {
  const m = obj(v);
  const accuracy = num(m?.['accuracy']);
  const balancedAccuracy = num(m?.['balancedAccuracy']);
  if (!m || accuracy === null || balancedAccuracy === null) return null;
  return { n: num(m['n']) ?? 0, accuracy, balancedAccuracy, auc: num(m['auc']) };
}

/** The summary of a model document (shared/classify/model.ts); null when the text is not one. */
export function summarizeModel(text: string): VersionSummary | null {
  let doc: Loose;
  try {
    doc = obj(JSON.parse(text));
  } catch {
    return null;
  }
  const spec = obj(doc?.['spec']);
  const training = obj(doc?.['training']);
  if (!doc || !spec || !training) return null;
  const m = obj(doc['metrics']);
  const estimate = obj(m?.['estimate']);
  const estimateMetrics = metrics(estimate?.['metrics']);
  const params = obj(training['params']);
  return {
    classifier: typeof training['description'] === 'string' ? training['description'] : String(params?.['type'] ?? 'unknown').toUpperCase(),
    features: strings(spec['features']),
    size: num(spec['size']) ?? 0,
    labels: strings(doc['labels']),
    trainedOn: num(training['size']) ?? 0,
    test: metrics(m?.['test']),
    estimate: estimateMetrics && { ...estimateMetrics, mode: typeof estimate?.['mode'] === 'string' ? estimate['mode'] : 'validation' },
  };
}
