import { balancedAccuracy, computeMetrics } from '../metrics.ts';
import { stratifiedFolds } from '../cv.ts';
import { takeRows, type Matrix } from '../linalg.ts';
import type { CnnParams } from '../params.ts';
import type { LabelledSet, TrainData, TrainOutcome } from '../train.ts';
import { DEFAULT_AUGMENT, NO_AUGMENT } from './augment.ts';
import { evaluateCnnAsync, imagesFromVectors, type CnnModel } from './cnn_model.ts';
import { defaultArchitecture } from './network.ts';
import { DEFAULT_CNN_SETTINGS, trainCnn, type CnnTrainHooks, type CnnTrainSettings } from './train_cnn.ts';

export const DEFAULT_CNN_PARAMS: Readonly<CnnParams> = Object.freeze({ type: 'cnn', epochs: 30, widths: [16, 32, 64], augment: true, flip: true });

/** Share of train held out for early stopping when the dataset has no val/ split. */
const HOLDOUT_FOLDS = 10;

export interface CnnFitSettings {
  /** Side of the (square) input and its channels: 1 for `pixels`, 3 for `colourPixels`. */
  inputSize: number;
  channels: number;
  seed: number;
  classWeight: 'balanced' | null;
  /** Stop after the epoch that passes this many milliseconds (an --auto budget); null: none. */
  budgetMs?: number | null;
  /** Overrides of the training defaults (batch size, learning rate, patience). */
  training?: Partial<Omit<CnnTrainSettings, 'augment' | 'seed' | 'classWeight' | 'budgetMs' | 'epochs' | 'labelSmoothing' | 'mixup'>>;
}

const identityScaler = (d: number) => ({ mean: new Float64Array(d), scale: new Float64Array(d).fill(1) });

/**
 * Trains the CNN on feature vectors of pixels (the `pixels` or `colourPixels` feature) and
 * returns what trainModel returns for the SVM and KNN: the entry point of `--classifier cnn`
 * and of an `--auto` that includes the network. Early stopping watches val/, or a stratified
 * tenth of train where there is no val/; the estimate is on that same set; test is scored once.
 * Runs on the active tfjs backend (the server's: wasm with registerWasmTrainingKernels).
 */
export async function trainCnnModel(data: TrainData, params: CnnParams, s: CnnFitSettings, hooks: CnnTrainHooks = {}): Promise<TrainOutcome> {
  const k = data.labels.length;
  let train: LabelledSet = data.train;
  let val: LabelledSet | undefined = data.val && data.val.y.length > 0 ? data.val : undefined;
  if (!val) {
    const split = stratifiedFolds(data.train.y, k, HOLDOUT_FOLDS, s.seed)[0]!;
    train = { X: takeRows(data.train.X, split.train), y: Int32Array.from(split.train, (i) => data.train.y[i]!) };
    val = { X: takeRows(data.train.X, split.test), y: Int32Array.from(split.test, (i) => data.train.y[i]!) };
  }
  const architecture = defaultArchitecture(s.inputSize, s.channels, k, params.widths, params.blocks ?? 1);
  const images = (X: Matrix) => imagesFromVectors(X, architecture);
  const settings: CnnTrainSettings = {
    ...DEFAULT_CNN_SETTINGS,
    ...s.training,
    epochs: params.epochs,
    augment: params.augment ? { ...DEFAULT_AUGMENT, flip: params.flip } : NO_AUGMENT,
    classWeight: s.classWeight,
    seed: s.seed,
    budgetMs: s.budgetMs ?? null,
    ...(params.labelSmoothing ? { labelSmoothing: params.labelSmoothing } : {}),
    ...(params.mixup ? { mixup: params.mixup } : {}),
  };
  const result = await trainCnn(architecture, { x: images(train.X), y: train.y }, { x: images(val.X), y: val.y }, settings, hooks);
  const model: CnnModel = { architecture, normalisation: result.normalisation, weights: result.weights, history: result.history, bestEpoch: result.bestEpoch };
  const valEval = await evaluateCnnAsync(model, val.X);
  const estimate = computeMetrics(val.y, valEval, data.labels);
  const test = data.test && data.test.y.length > 0 ? computeMetrics(data.test.y, await evaluateCnnAsync(model, data.test.X), data.labels) : null;
  return {
    predictor: { scaler: identityScaler(train.X.cols), classifier: { type: 'cnn', model } },
    params: { ...params },
    gamma: null,
    selection: null,
    estimate: { mode: 'validation', folds: 1, metrics: estimate, foldBalancedAccuracy: [balancedAccuracy(val.y, valEval.predicted, k)] },
    test,
    iterations: result.history.map((h) => h.epoch),
    capped: 0,
  };
}
