import type { Metrics } from '../../shared/classify/metrics.ts';
import type { RocCurve } from '../../shared/classify/roc.ts';

export const fixed = (v: number | null, digits = 3): string => (v === null ? 'n/a' : v.toFixed(digits));

/** A table: the first `left` columns aligned left, the others (numbers) right. */
export function table(header: string[], rows: string[][], left = 1, indent = '  '): string {
  const widths = header.map((_, c) => Math.max(header[c]!.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) => indent + cells.map((cell, c) => (c < left ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export function metricsLine(m: Metrics): string {
  return `accuracy ${fixed(m.accuracy)}  balanced accuracy ${fixed(m.balancedAccuracy)}  AUC ${fixed(m.auc)}`;
}

/** Confusion matrix and per-class precision, recall, F1 and support. */
export function metricsDetail(m: Metrics): string {
  const confusion = table(
    ['true \\ predicted', ...m.labels],
    m.labels.map((l, r) => [l, ...m.confusion[r]!.map(String)]),
  );
  const perClass = table(
    ['class', 'precision', 'recall', 'F1', 'AUC', 'support'],
    m.perClass.map((c, i) => [c.label, fixed(c.precision), fixed(c.recall), fixed(c.f1), fixed(m.aucPerClass[i] ?? null), String(c.support)]),
  );
  return `${confusion}\n\n${perClass}`;
}

/** What `evaluate --json` prints: the metrics, and the ROC curves per class (one-vs-rest) with the model's operating points. */
export function metricsJson(m: Metrics, roc: RocCurve[]): string {
  const { n, labels, accuracy, balancedAccuracy, auc, confusion, perClass } = m;
  return JSON.stringify({ n, labels, accuracy, balancedAccuracy, auc, confusion, perClass, roc });
}
