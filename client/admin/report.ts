/** The parts of a trainDone report the page shows (server/training/train_report.ts), read defensively. */
export interface ReportMetrics {
  n: number;
  labels: string[];
  accuracy: number;
  balancedAccuracy: number;
  auc: number | null;
  confusion: number[][];
  perClass: { label: string; precision: number; recall: number; f1: number; support: number }[];
}

/** One class's ROC curve (one-vs-rest) as the report carries it (shared/classify/roc.ts). */
export interface RocCurveReport {
  label: string;
  auc: number | null;
  points: [number, number][];
  operatingPoint: { fpr: number; tpr: number; threshold: number | null };
}

/** One (size, feature set) row of --auto's search (server/training/auto_model.ts featureSetTable). */
export interface AutoSetRow {
  size: number | null;
  set: string | null;
  best: string | null;
  balancedAccuracy: number | null;
  auc: number | null;
  scored: number;
  skipped: number;
  ms: number;
  reason?: string;
}

export interface AutoReport {
  budgetMs?: number;
  searchMs?: number;
  threads?: number;
  folds?: number;
  scored?: number;
  skipped?: number;
  skippedWhy?: { reason: string; count: number }[];
  reason?: string;
  winner?: { size: number; set: string; classifier: string; label: string; name: string };
  featureSets?: AutoSetRow[];
  classWeight?: { on: string; by: string; chosen: string | null; compared: { classWeight: string | null; score: number | null }[] };
  threshold?: { value: number | null; default?: number; on?: string; by?: string; before?: number; after?: number; note?: string };
  /** The CNN and its ensemble with the best feature model against that model, out of fold on train/ (or why the CNN was not tried). */
  cnn?: {
    skipped?: string;
    on?: string;
    /** Where the finalists' figures in `val` come from ('val/'), where there is such a split. */
    alsoOn?: string;
    by?: string;
    epochs?: number;
    bestEpoch?: number;
    ms?: number;
    compared?: { candidate: string; score: number | null; auc: number | null; threshold: number | null; val?: { score: number | null; auc: number | null } }[];
    ensembleSkipped?: string;
    chosen?: string;
  };
}

/** One CNN epoch: loss and accuracy on train and on the validation images (trainProgress's `epoch`, the report's `epochs`). */
export interface EpochPoint {
  epoch: number;
  /** Planned epochs (live progress; the report leaves it out). */
  epochs?: number;
  loss: number;
  accuracy: number;
  valLoss: number;
  valAccuracy: number;
  valAuc: number | null;
}

export interface TrainReport {
  /** Where it trained: absent for the server, `browser` for the admin's own. */
  where?: 'browser';
  /** The browser's tfjs backend, in words. */
  backend?: string;
  /** The CNN's curves, per epoch, and the epoch whose weights were kept. */
  epochs?: EpochPoint[] | null;
  bestEpoch?: number | null;
  model?: { sha256?: string; bytes?: number };
  roc?: { on: string; curves: RocCurveReport[] } | undefined;
  auto?: AutoReport | null;
  jobId?: string;
  warnings?: string[];
  params?: { description?: string };
  estimate?: { mode?: string; folds?: number | null; metrics?: ReportMetrics | null };
  test?: ReportMetrics | null;
  misclassified?: { true: string; predicted: string; count: number; names: string[]; truncated?: boolean }[];
  timings?: { totalMs?: number; fitMs?: number };
  dataset?: { images?: number };
}

export const asReport = (r: unknown): TrainReport => (r && typeof r === 'object' ? (r as TrainReport) : {});
export const pct = (v: number | null | undefined): string => (typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–');
