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

export interface TrainReport {
  jobId?: string;
  warnings?: string[];
  params?: { description?: string };
  estimate?: { mode?: string; folds?: number | null; metrics?: ReportMetrics | null };
  test?: ReportMetrics | null;
  misclassified?: { true: string; predicted: string; count: number; names: string[]; truncated?: boolean }[];
  timings?: { totalMs?: number };
  dataset?: { images?: number };
}

export const asReport = (r: unknown): TrainReport => (r && typeof r === 'object' ? (r as TrainReport) : {});
export const pct = (v: number | null | undefined): string => (typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–');
