import { predict } from '../../shared/classify/classifier.ts';
import type { Counts } from '../../shared/classify/dataset.ts';
import { buildModelDocument, serializeModel, trainingContentHash, type ModelDocument } from '../../shared/classify/model.ts';
import { rocCurves, type RocCurve } from '../../shared/classify/roc.ts';
import { trainModel, type LabelledSet, type Preset, type Stage, type TrainOutcome, type TrainSettings } from '../../shared/classify/train.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import { trainCnnModel, type CnnFitSettings } from '../../shared/classify/cnn/train_model.ts';
import { groupsFor, type EpochReport } from '../../shared/classify/cnn/train_cnn.ts';
import { cnnInputShape } from '../../shared/classify/cnn_input.ts';
// static: a dynamic import of a .ts module fails on a worker thread running the sources
import { useCnnBackend } from '../features/backend.ts';
import { cnnGroupThreads } from '../features/cnn_groups.ts';

/** The network's input from the spec (shared/classify/cnn_input.ts: the browser's training uses the same rule), with --auto's budget. */
export function cnnShape(input: Pick<FitInput, 'spec' | 'imageSize' | 'settings' | 'cnnBudgetMs' | 'cnnTraining'>): CnnFitSettings {
  return { ...cnnInputShape(input.spec, input.imageSize, input.settings), budgetMs: input.cnnBudgetMs ?? null, ...(input.cnnTraining ? { training: input.cnnTraining } : {}) };
}

/** Everything the fit needs, as plain data (it crosses to a worker thread). */
export interface FitInput {
  spec: FeatureSpec;
  labels: string[];
  featureLength: number;
  imageSize: { width: number; height: number } | null;
  train: LabelledSet;
  val?: LabelledSet | undefined;
  test?: LabelledSet | undefined;
  settings: TrainSettings;
  /** Training images per class. */
  counts: Counts;
  /** ISO time stamp for the model document. */
  createdAt: string;
  /** --auto's choice, made before this fit: the fit takes it as it is. */
  preset?: Preset | undefined;
  /** The CNN stops after the epoch that passes this many milliseconds (--auto's budget). */
  cnnBudgetMs?: number | undefined;
  /** Overrides of the CNN's training defaults (--auto's patience). */
  cnnTraining?: CnnFitSettings['training'] | undefined;
}

export interface FitOutput {
  outcome: TrainOutcome;
  doc: ModelDocument;
  /** The model file's text, as the store and `--out` keep it. */
  text: string;
  /** The final model's class index for each test row (null without a test split). */
  testPredicted: Int32Array | null;
  /** ROC curves of the test split per class, with the final model's operating point. */
  testRoc: RocCurve[] | null;
}

/** The CNN's per-epoch report (loss and accuracy curves). */
export type EpochHook = (report: EpochReport) => void;

/**
 * Fits (and with `auto` tunes) the model, scores test once, and writes the model document.
 * CPU-bound: the SVM and KNN synchronously, the CNN on the wasm backend epoch by epoch.
 */
export async function fitModel(input: FitInput, progress?: (stage: Stage, done: number, total: number) => void, onEpoch?: EpochHook): Promise<FitOutput> {
  const { labels, train, val, test, settings } = input;
  const p = settings.params;
  let outcome: TrainOutcome;
  if (p.type === 'cnn') {
    await useCnnBackend();
    progress?.('fitting', 0, p.epochs);
    // large sets: each batch's second group on a thread of its own (the same model as without)
    const groups = groupsFor({}, train.y.length) > 1 ? await cnnGroupThreads() : null;
    try {
      outcome = await trainCnnModel({ labels, train, val, test }, p, cnnShape(input), {
        onEpoch: (r) => {
          progress?.('fitting', r.epoch, r.epochs);
          onEpoch?.(r);
        },
        ...(groups ? { groupRunner: groups } : {}),
      });
    } finally {
      await groups?.close();
    }
  } else outcome = trainModel({ labels, train, val, test }, settings, progress ? { progress } : {}, input.preset);
  const doc = buildModelDocument({
    spec: input.spec,
    labels,
    featureLength: input.featureLength,
    imageSize: input.imageSize,
    outcome,
    training: { size: train.y.length, counts: input.counts, contentHash: trainingContentHash(train.X, train.y, labels), seed: settings.seed },
    createdAt: new Date(input.createdAt),
  });
  const scored = test && test.y.length > 0 ? predict(outcome.predictor, test.X) : null;
  const testRoc = scored ? rocCurves(test!.y, scored.scores, scored.predicted, labels, outcome.predictor.threshold ?? null) : null;
  return { outcome, doc, text: serializeModel(doc), testPredicted: scored?.predicted ?? null, testRoc };
}
