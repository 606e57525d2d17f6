import { predict } from '../../shared/classify/classifier.ts';
import type { Counts } from '../../shared/classify/dataset.ts';
import { buildModelDocument, serializeModel, trainingContentHash, type ModelDocument } from '../../shared/classify/model.ts';
import { rocCurves, type RocCurve } from '../../shared/classify/roc.ts';
import { trainModel, type LabelledSet, type Preset, type Stage, type TrainOutcome, type TrainSettings } from '../../shared/classify/train.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';

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

/** Fits (and with `auto` tunes) the model, scores test once, and writes the model document. Synchronous: CPU-bound. */
export function fitModel(input: FitInput, progress?: (stage: Stage, done: number, total: number) => void): FitOutput {
  const { labels, train, val, test, settings } = input;
  const outcome = trainModel({ labels, train, val, test }, settings, progress ? { progress } : {}, input.preset);
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
