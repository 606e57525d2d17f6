import type { KernelName } from './kernel.ts';
import type { KnnMetric, KnnWeights } from './knn.ts';

/** gamma as a multiple of scikit-learn's 'scale' (resolved on each training set), or a number. */
export type GammaSetting = { scale: number } | { value: number };

export interface SvmParams {
  type: 'svm';
  kernel: KernelName;
  C: number;
  gamma: GammaSetting;
}

export interface KnnParams {
  type: 'knn';
  k: number;
  metric: KnnMetric;
  weights: KnnWeights;
}

/** The convolutional network (shared/classify/cnn): most epochs, stage widths and augmentation. */
export interface CnnParams {
  type: 'cnn';
  epochs: number;
  widths: number[];
  /** Residual blocks per stage; absent: 1. */
  blocks?: number;
  /** Label smoothing of the training targets (CnnTrainSettings.labelSmoothing); absent: none. */
  labelSmoothing?: number;
  /** Mixup's Beta(alpha, alpha) (CnnTrainSettings.mixup); absent: none. */
  mixup?: number;
  /** Random shifts, rotations and scale while training. */
  augment: boolean;
  /** Left-right mirroring among the augmentations (off for lateralised images). */
  flip: boolean;
}

/** An average of members' class probabilities (--auto's best feature model with the CNN). */
export interface EnsembleParams {
  type: 'ensemble';
  members: (SvmParams | KnnParams | CnnParams)[];
}

export type CandidateParams = SvmParams | KnnParams | CnnParams | EnsembleParams;

const num = (v: number) => String(Number(v.toPrecision(4)));

export function gammaLabel(g: GammaSetting): string {
  if ('value' in g) return num(g.value);
  if (g.scale === 1) return 'scale';
  return Math.abs(g.scale - 1 / 3) < 1e-12 ? 'scale/3' : g.scale < 1 ? `scale/${num(1 / g.scale)}` : `scale*${num(g.scale)}`;
}

export function paramsLabel(p: CandidateParams): string {
  if (p.type === 'ensemble') return `mean of ${p.members.map((m) => `${classifierLabel(m)} ${paramsLabel(m)}`).join(' and ')}`;
  if (p.type === 'cnn')
    return `${p.widths.join('-')} channels${p.blocks && p.blocks > 1 ? ` (${p.blocks} blocks a stage)` : ''}, ${p.epochs} epochs${p.augment ? `, augmented${p.flip ? ' with flips' : ' without flips'}` : ''}${p.mixup ? `, mixup ${num(p.mixup)}` : ''}${p.labelSmoothing ? `, label smoothing ${num(p.labelSmoothing)}` : ''}`;
  if (p.type === 'knn') return `k=${p.k} ${p.metric}${p.weights === 'distance' ? ' distance-weighted' : ''}`;
  return p.kernel === 'linear' ? `linear C=${num(p.C)}` : `rbf C=${num(p.C)} gamma=${gammaLabel(p.gamma)}`;
}

export function classifierLabel(p: CandidateParams): string {
  return p.type === 'svm' ? `SVM (${p.kernel})` : p.type === 'cnn' ? 'CNN' : p.type === 'ensemble' ? 'ensemble' : 'KNN';
}
