import {
  add,
  conv2d,
  customGrad,
  div,
  keep,
  matMul,
  mean,
  moments,
  mul,
  relu,
  reshape,
  rsqrt,
  sub,
  sum,
  tensor,
  type GradSaveFunc,
  type Rank,
  type Tensor,
  type Tensor2D,
  type Tensor4D,
} from '@tensorflow/tfjs-core';
import { gaussian, type Rng } from '../prng.ts';

/**
 * A compact ResNet for small medical images: a 3x3 stem (strided for large inputs), one
 * residual stage per width (blocks of two 3x3 conv-BN layers; in a stage's first block the
 * first is strided from the second stage on, with a 1x1 projection where the shape changes), global average pooling, dropout and a
 * dense softmax layer. Written in tfjs-core ops, not tfjs-layers, so that the same code runs
 * on every backend, the parameters are plain named arrays for the model file, and seeded
 * training repeats exactly.
 */
export interface CnnArchitecture {
  /** Side of the square input (the spec's size). */
  inputSize: number;
  /** 1 (grey) or 3 (RGB planes). */
  channels: number;
  /** Stride of the stem: 1 up to 32 px, 2 up to 64, 4 above. */
  stemStride: number;
  /** Channels per stage. */
  widths: number[];
  /**
   * Residual blocks per stage (the first may be strided and projected, the others keep the
   * shape). Absent: 1, the network before this field existed (its files load unchanged).
   */
  blocks?: number;
  dropout: number;
  classes: number;
}

export const BN_EPSILON = 1e-3;

export function defaultArchitecture(inputSize: number, channels: number, classes: number, widths = [16, 32, 64], blocks = 1): CnnArchitecture {
  return { inputSize, channels, stemStride: inputSize <= 32 ? 1 : inputSize <= 64 ? 2 : 4, widths, ...(blocks !== 1 ? { blocks } : {}), dropout: 0.3, classes };
}

/** Residual blocks per stage (1 where the architecture does not say). */
export const blocksOf = (a: CnnArchitecture): number => a.blocks ?? 1;

/** A block's layer prefix: `stage{s}` for the first (the names of one-block files), `stage{s}/block{b}` after it. */
const blockName = (stage: number, block: number): string => (block === 0 ? `stage${stage}` : `stage${stage}/block${block}`);

/** One parameter: trained (conv kernels, BN scale and shift, dense) or a running BN statistic. */
export interface ParamSpec {
  name: string;
  shape: number[];
  init: 'he' | 'zeros' | 'ones' | 'glorot';
  trainable: boolean;
}

function convBn(name: string, k: number, cin: number, cout: number): ParamSpec[] {
  return [
    { name: `${name}/kernel`, shape: [k, k, cin, cout], init: 'he', trainable: true },
    { name: `${name}/gamma`, shape: [cout], init: 'ones', trainable: true },
    { name: `${name}/beta`, shape: [cout], init: 'zeros', trainable: true },
    { name: `${name}/movingMean`, shape: [cout], init: 'zeros', trainable: false },
    { name: `${name}/movingVariance`, shape: [cout], init: 'ones', trainable: false },
  ];
}

/** From the second stage on the first conv is strided, so the shortcut needs a projection. */
const needsProjection = (stage: number): boolean => stage > 0;
const stageIn = (a: CnnArchitecture, stage: number): number => (stage === 0 ? a.widths[0]! : a.widths[stage - 1]!);

/** Every parameter of the architecture, in a fixed order (the model file's). */
export function parameterSpecs(a: CnnArchitecture): ParamSpec[] {
  const out = convBn('stem', 3, a.channels, a.widths[0]!);
  a.widths.forEach((w, s) => {
    out.push(...convBn(`stage${s}/conv1`, 3, stageIn(a, s), w), ...convBn(`stage${s}/conv2`, 3, w, w));
    if (needsProjection(s)) out.push(...convBn(`stage${s}/projection`, 1, stageIn(a, s), w));
    for (let b = 1; b < blocksOf(a); b++) out.push(...convBn(`${blockName(s, b)}/conv1`, 3, w, w), ...convBn(`${blockName(s, b)}/conv2`, 3, w, w));
  });
  out.push({ name: 'dense/kernel', shape: [a.widths.at(-1)!, a.classes], init: 'glorot', trainable: true });
  out.push({ name: 'dense/bias', shape: [a.classes], init: 'zeros', trainable: true });
  return out;
}

/** Initial values: He normal for conv kernels, Glorot uniform for the dense layer, from `rng` in parameter order. */
export function initialValues(a: CnnArchitecture, rng: Rng): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const p of parameterSpecs(a)) {
    const size = p.shape.reduce((x, y) => x * y, 1);
    const v = new Float32Array(size);
    if (p.init === 'ones') v.fill(1);
    else if (p.init === 'he') {
      const fanIn = p.shape[0]! * p.shape[1]! * p.shape[2]!;
      const sd = Math.sqrt(2 / fanIn);
      for (let i = 0; i < size; i++) v[i] = gaussian(rng) * sd;
    } else if (p.init === 'glorot') {
      const limit = Math.sqrt(6 / (p.shape[0]! + p.shape[1]!));
      for (let i = 0; i < size; i++) v[i] = (2 * rng.next() - 1) * limit;
    }
    out.set(p.name, v);
  }
  return out;
}

/** Parameters as tensors (variables while training), by name. */
export type Params = Map<string, Tensor>;

/** Per batch, while training: the BN layers' batch statistics, for the running averages. */
export type BatchStats = Map<string, { mean: Tensor; variance: Tensor }>;

export interface ForwardOptions {
  /** Batch statistics in the BN layers and dropout (with `dropoutMask`); running statistics otherwise. */
  training: boolean;
  /** [batch, width] of 0 or 1 / (1 - rate), from the seeded generator. */
  dropoutMask?: Tensor2D;
  /** Filled with each BN layer's batch mean and variance while training. */
  stats?: BatchStats;
}

function bn(p: Params, name: string, x: Tensor4D, o: ForwardOptions): Tensor4D {
  const gamma = p.get(`${name}/gamma`)!;
  const beta = p.get(`${name}/beta`)!;
  if (o.training) return batchNormTraining(x, gamma, beta, (mean, variance) => o.stats?.set(name, { mean, variance }));
  const m = p.get(`${name}/movingMean`)!;
  const v = p.get(`${name}/movingVariance`)!;
  // (x - mean) * (gamma / sqrt(var + eps)) + beta
  return add(mul(sub(x, m), mul(gamma, rsqrt(add(v, BN_EPSILON)))), beta);
}

/**
 * Batch norm with the batch's statistics as one op with its gradient written out: dbeta =
 * sum(dy), dgamma = sum(dy * xhat), dx = gamma / sigma * (dy - (dbeta + xhat * dgamma) / n).
 * Left to autodiff, the same formula took about twice as many full-size passes (each
 * broadcast and reduction of the mean and variance differentiated on its own). The batch
 * mean and variance go to `stats` (kept: the caller disposes them).
 */
export function batchNormTraining(x: Tensor4D, gamma: Tensor, beta: Tensor, stats: (mean: Tensor, variance: Tensor) => void): Tensor4D {
  const op = customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [xs, g, b, save] = args as [Tensor4D, Tensor, Tensor, GradSaveFunc];
    const { mean: m, variance: v } = moments(xs, [0, 1, 2]);
    stats(keep(m), keep(v));
    const rstd = rsqrt(add(v, BN_EPSILON));
    const xhat = mul(sub(xs, m), rstd);
    save([xhat, rstd]);
    return {
      value: add(mul(xhat, g), b) as Tensor4D,
      gradFunc: (dy: Tensor4D, saved: Tensor[]) => {
        const [xh, r] = saved as [Tensor4D, Tensor];
        const n = dy.size / dy.shape[3];
        const dBeta = sum(dy, [0, 1, 2]);
        const dGamma = sum(mul(dy, xh), [0, 1, 2]);
        const dx = mul(sub(dy, add(div(dBeta, n), mul(xh, div(dGamma, n)))), mul(g, r));
        return [dx, dGamma, dBeta];
      },
    };
  });
  return op(x, gamma, beta) as Tensor4D;
}

function convBnForward(p: Params, name: string, x: Tensor4D, stride: number, o: ForwardOptions): Tensor4D {
  return bn(p, name, conv2d(x, p.get(`${name}/kernel`) as Tensor4D, stride, 'same'), o);
}

/** Logits [batch, classes] of a batch of normalised images [batch, size, size, channels]. */
export function forward(a: CnnArchitecture, p: Params, x: Tensor4D, o: ForwardOptions): Tensor2D {
  let h = relu(convBnForward(p, 'stem', x, a.stemStride, o));
  a.widths.forEach((_, s) => {
    const stride = s === 0 ? 1 : 2;
    const y = convBnForward(p, `stage${s}/conv2`, relu(convBnForward(p, `stage${s}/conv1`, h, stride, o)), 1, o);
    const shortcut = needsProjection(s) ? convBnForward(p, `stage${s}/projection`, h, stride, o) : h;
    h = relu(add(y, shortcut));
    for (let b = 1; b < blocksOf(a); b++) {
      const name = blockName(s, b);
      h = relu(add(convBnForward(p, `${name}/conv2`, relu(convBnForward(p, `${name}/conv1`, h, 1, o)), 1, o), h));
    }
  });
  let features = mean(h, [1, 2]) as Tensor2D;
  if (o.training && o.dropoutMask) features = mul(features, o.dropoutMask);
  return add(matMul(features, p.get('dense/kernel') as Tensor2D), p.get('dense/bias')!);
}

/** Tensors of the parameter values. */
export function paramTensors(values: Map<string, Float32Array>, a: CnnArchitecture): Params {
  const out: Params = new Map();
  for (const s of parameterSpecs(a)) out.set(s.name, tensor(values.get(s.name)!, s.shape) as Tensor<Rank>);
  return out;
}

export const asImages = (x: Tensor, a: CnnArchitecture): Tensor4D => reshape(x, [-1, a.inputSize, a.inputSize, a.channels]);
