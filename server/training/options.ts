import { MedclassError } from '../../shared/errors.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import type { CandidateParams } from '../../shared/classify/params.ts';
import { DEFAULT_SETTINGS, type TrainSettings } from '../../shared/classify/train.ts';
import { DEFAULT_CNN_PARAMS } from '../../shared/classify/cnn/train_model.ts';
import { specInput, type SpecOptions } from '../features/spec_input.ts';
import { CNN_MIN_BUDGET_MS, DEFAULT_BUDGET_MS, type AutoOptions } from './auto_model.ts';

export interface TrainCliOptions extends SpecOptions {
  classifier?: string;
  kernel?: string;
  c?: string;
  gamma?: string;
  k?: string;
  metric?: string;
  auto?: boolean;
  budget?: string;
  operatingPoint?: string;
  rankBy?: string;
  jobs?: string;
  classWeight?: string;
  seed?: string;
  out?: string;
  /** CNN: most epochs, stage widths ("16,32,64"), and the augmentation switches (commander's --no-flip, --no-augment). */
  epochs?: string;
  widths?: string;
  flip?: boolean;
  augment?: boolean;
}

const NUMBER = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;
const fail = (message: string): never => {
  throw new MedclassError('invalidSpec', message);
};

function positive(name: string, v: string): number {
  const x = NUMBER.test(v) ? Number(v) : NaN;
  if (!(x > 0) || !Number.isFinite(x)) fail(`${name} must be a positive number, not '${v}'`);
  return x;
}

function integer(name: string, v: string, min: number): number {
  const x = /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(x) || x < min) fail(`${name} must be an integer of at least ${min}, not '${v}'`);
  return x;
}

/** A time budget: "120s", "2m", "90" (seconds), "1500ms". */
export function parseBudget(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min)?\s*$/.exec(text);
  const ms = m ? Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, min: 60_000 } as const)[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'min'] : NaN;
  if (!(ms >= 1000) || !Number.isFinite(ms)) fail(`--budget must be a time of at least 1s, such as 120s or 2m, not '${text}'`);
  return ms;
}

/** Everything `train` needs from its options, checked; contradictions are refused, not guessed at. */
export function parseTrainOptions(o: TrainCliOptions): { spec: FeatureSpec; settings: TrainSettings; out: string; threads?: number; search?: AutoOptions } {
  const classifier = o.classifier ?? 'svm';
  if (classifier !== 'svm' && classifier !== 'knn' && classifier !== 'cnn') fail(`--classifier must be svm, knn or cnn, not '${classifier}'`);
  const input = specInput(o);
  // the network takes the image itself, at MedMNIST's 28 pixels unless told otherwise
  if (classifier === 'cnn') input['features'] ??= ['pixels'];
  if (classifier === 'cnn') input['size'] ??= 28;
  const spec = parseFeatureSpec(input);
  if (classifier !== 'cnn') {
    for (const [flag, v] of [['--epochs', o.epochs], ['--widths', o.widths], ['--no-flip', o.flip === false ? 'x' : undefined], ['--no-augment', o.augment === false ? 'x' : undefined]] as const) {
      if (v !== undefined) fail(`${flag} applies to --classifier cnn`);
    }
  }
  const seed = integer('--seed', o.seed ?? '1', -(2 ** 31));
  const auto = Boolean(o.auto);
  let classWeight: 'balanced' | null = null;
  if (o.classWeight !== undefined) {
    if (o.classWeight !== 'balanced') fail(`--class-weight can only be 'balanced', not '${o.classWeight}'`);
    if (classifier === 'knn') fail('--class-weight applies to the SVM and the CNN (KNN votes are not weighted by class)');
    classWeight = 'balanced';
  }
  let params: CandidateParams;
  if (classifier === 'cnn') {
    for (const [flag, v] of [['--k', o.k], ['--metric', o.metric], ['--c', o.c], ['--gamma', o.gamma]] as const) if (v !== undefined) fail(`${flag} applies to --classifier ${flag === '--k' || flag === '--metric' ? 'knn' : 'svm'}`);
    if (auto) fail(`--auto tries the CNN (and its ensemble with the best feature model) itself when --budget is ${CNN_MIN_BUDGET_MS / 60_000}m or more: drop --classifier cnn`);
    const widths = (o.widths ?? DEFAULT_CNN_PARAMS.widths.join(',')).split(',').map((w) => integer('--widths', w, 1));
    if (widths.length > 6 || widths.some((w) => w > 256)) fail('--widths takes at most 6 stages of at most 256 channels');
    params = { type: 'cnn', epochs: o.epochs === undefined ? DEFAULT_CNN_PARAMS.epochs : integer('--epochs', o.epochs, 1), widths, augment: o.augment !== false, flip: o.flip !== false && o.augment !== false };
  } else if (classifier === 'svm') {
    for (const [flag, v] of [['--k', o.k], ['--metric', o.metric]] as const) if (v !== undefined) fail(`${flag} applies to --classifier knn`);
    const kernel = o.kernel ?? 'rbf';
    if (kernel !== 'rbf' && kernel !== 'linear') fail(`--kernel must be rbf or linear, not '${kernel}'`);
    if (auto && (o.c !== undefined || o.gamma !== undefined)) fail('--auto chooses C (and gamma) itself: drop --c/--gamma, or drop --auto');
    if (kernel === 'linear' && o.gamma !== undefined) fail('--gamma applies to the RBF kernel only');
    const C = o.c === undefined ? 1 : positive('--c', o.c);
    const gamma = o.gamma === undefined || o.gamma.trim() === 'scale' ? { scale: 1 } : { value: positive('--gamma', o.gamma) };
    params = { type: 'svm', kernel: kernel as 'rbf' | 'linear', C, gamma };
  } else {
    for (const [flag, v] of [['--c', o.c], ['--gamma', o.gamma]] as const) if (v !== undefined) fail(`${flag} applies to --classifier svm`);
    if (auto && (o.k !== undefined || o.metric !== undefined)) fail('--auto chooses k and the metric itself: drop --k/--metric, or drop --auto');
    const metric = o.metric ?? 'euclidean';
    if (metric !== 'euclidean' && metric !== 'cosine') fail(`--metric must be euclidean or cosine, not '${metric}'`);
    params = { type: 'knn', k: o.k === undefined ? 5 : integer('--k', o.k, 1), metric: metric as 'euclidean' | 'cosine', weights: 'uniform' };
  }
  if (o.budget !== undefined && !auto) fail('--budget is the time --auto may take: add --auto, or drop --budget');
  if (o.operatingPoint !== undefined && !auto) fail('--operating-point is what --auto chooses the threshold for: add --auto, or drop it');
  if (o.operatingPoint !== undefined && o.operatingPoint !== 'balanced' && o.operatingPoint !== 'accuracy') fail(`--operating-point must be balanced or accuracy, not '${o.operatingPoint}'`);
  if (o.rankBy !== undefined && !auto) fail('--rank-by is how --auto ranks its candidates: add --auto, or drop it');
  if (o.rankBy !== undefined && o.rankBy !== 'balanced' && o.rankBy !== 'auc') fail(`--rank-by must be balanced or auc, not '${o.rankBy}'`);
  const threads = o.jobs === undefined ? undefined : integer('--jobs', o.jobs, 1);
  const settings: TrainSettings = { ...DEFAULT_SETTINGS, params, auto, classWeight, seed };
  const out = o.out ?? 'model.json';
  if (!auto) return { spec, settings, out, ...(threads ? { threads } : {}) };
  // What the user named stays fixed; --auto chooses the rest.
  const search: AutoOptions = {
    budgetMs: o.budget === undefined ? DEFAULT_BUDGET_MS : parseBudget(o.budget),
    sizes: o.size === undefined ? undefined : [spec.size],
    sets: o.features === undefined ? undefined : [{ name: 'given', families: [], features: spec.features }],
    classifiers: o.classifier === undefined ? (o.kernel === undefined ? undefined : [`SVM (${o.kernel})`]) : classifier === 'knn' ? ['KNN'] : o.kernel === undefined ? ['SVM (rbf)', 'SVM (linear)'] : [`SVM (${o.kernel})`],
    classWeight: o.classWeight === undefined ? undefined : classWeight,
    operatingPoint: o.operatingPoint as 'balanced' | 'accuracy' | undefined,
    rankBy: o.rankBy as 'balanced' | 'auc' | undefined,
    // a classifier the user named is the only one tried
    cnn: o.classifier !== undefined || o.kernel !== undefined ? false : undefined,
    threads,
  };
  return { spec, settings, out, ...(threads ? { threads } : {}), search };
}
