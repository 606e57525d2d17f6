import type { Metrics } from '../../shared/classify/metrics.ts';
import { cnnModels } from '../../shared/classify/classifier.ts';
import { describeParams } from '../../shared/classify/model.ts';
import type { MessageOf } from '../../shared/protocol/messages.ts';
import type { TrainDatasetResult } from './train_dataset.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Bounds that keep a report well inside one message (its JSON part is at most 1 MiB). */
const MAX_LINES = 200;
const MAX_NAMES = 4000;
const MAX_REPORT_CHARS = 768 * 1024;

const metricsJson = (m: Metrics | null): Json =>
  m && {
    n: m.n,
    labels: m.labels,
    accuracy: m.accuracy,
    balancedAccuracy: m.balancedAccuracy,
    auc: m.auc,
    aucPerClass: m.aucPerClass,
    confusion: m.confusion,
    perClass: m.perClass.map((c) => ({ label: c.label, precision: c.precision, recall: c.recall, f1: c.f1, support: c.support })),
  };

const capLines = (lines: string[]): string[] => (lines.length > MAX_LINES ? [...lines.slice(0, MAX_LINES), `... and ${lines.length - MAX_LINES} more lines`] : lines);

/**
 * What `trainDone` carries: counts per split and class, warnings (duplicates, label
 * conflicts, images left out), the chosen settings, the estimate (validation or
 * cross-validated) and the test metrics, and the misclassified test images by confusion cell.
 * Only the admin who trained sees it; the audit trail never holds it.
 */
export function trainingReport(r: TrainDatasetResult, extra: { jobId: string; classifier: MessageOf<'train'>['classifier']; uploadWarnings?: string[] }): Record<string, Json> {
  const { outcome, settings } = r;
  let budget = MAX_NAMES;
  const misclassified = r.misclassified.map((c) => {
    const names = c.names.slice(0, Math.max(0, budget));
    budget -= names.length;
    return { true: c.trueLabel, predicted: c.predicted, count: c.names.length, names, ...(names.length < c.names.length ? { truncated: true } : {}) };
  });
  const c = outcome.predictor.classifier;
  const net = cnnModels(c)[0];
  const report: Record<string, Json> = {
    jobId: extra.jobId,
    dataset: {
      layout: r.layout,
      splits: r.splits,
      labels: r.labels,
      counts: r.counts as Json,
      images: Object.values(r.counts).reduce((n, counts) => n + Object.values(counts).reduce((a, b) => a + b, 0), 0),
      leftOut: r.leftOut.length,
      leftOutImages: r.leftOut.slice(0, 100),
    },
    warnings: capLines([...(extra.uploadWarnings ?? []), ...r.warnings]),
    duplicates: {
      groups: r.duplicates.groups.length,
      crossSplit: r.duplicates.crossSplit.length,
      labelConflicts: r.duplicates.labelConflicts.slice(0, 50).map((g) => g.map((i) => ({ name: i.name, split: i.split, label: i.label }))),
    },
    spec: r.doc.spec as Json,
    featureLength: r.featureLength,
    imageSize: r.imageSize,
    params: {
      requested: extra.classifier as Json,
      chosen: outcome.params as unknown as Json,
      description: describeParams(outcome.params, outcome.gamma),
      gamma: outcome.gamma,
      classWeight: settings.classWeight,
      probability: outcome.params.type === 'svm' ? settings.probability : null,
      seed: settings.seed,
      supportVectors: c.type === 'svm' ? c.model.supportVectors.rows : null,
      capped: outcome.capped,
    },
    estimate: {
      mode: outcome.estimate.mode,
      folds: outcome.estimate.folds,
      foldBalancedAccuracy: outcome.estimate.foldBalancedAccuracy,
      metrics: metricsJson(outcome.estimate.metrics),
    },
    test: metricsJson(outcome.test),
    // ROC curves per class (one-vs-rest) with the model's operating point: test, else the estimate's
    roc: (r.testRoc ? { on: 'test', curves: r.testRoc } : outcome.estimateRoc ? { on: outcome.estimate.mode, curves: outcome.estimateRoc } : null) as unknown as Json,
    auto: outcome.auto ? (outcome.auto as Json) : null,
    threshold: outcome.predictor.threshold ?? null,
    // the CNN's curves, per epoch (alone or in an ensemble)
    epochs: net ? net.history.map((h) => ({ epoch: h.epoch, loss: h.loss, accuracy: h.accuracy, valLoss: h.valLoss, valAccuracy: h.valAccuracy, valAuc: h.valAuc })) : null,
    bestEpoch: net ? net.bestEpoch : null,
    misclassified,
    model: { sha256: r.doc.integrity.sha256, bytes: r.modelText.length, labels: r.labels },
    timings: { extractMs: Math.round(r.timings.extractMs), fitMs: Math.round(r.timings.fitMs), totalMs: Math.round(r.timings.totalMs) },
  };
  // Plain JSON (no NaN, no typed arrays), and never more than a message holds.
  const plain = JSON.parse(JSON.stringify(report)) as Record<string, Json>;
  if (JSON.stringify(plain).length > MAX_REPORT_CHARS) {
    plain['misclassified'] = misclassified.map((m) => ({ true: m.true, predicted: m.predicted, count: m.count, names: [], truncated: true }));
    plain['dataset'] = { ...(plain['dataset'] as Record<string, Json>), leftOutImages: [] };
  }
  return plain;
}
