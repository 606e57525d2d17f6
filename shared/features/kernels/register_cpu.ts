import { registerKernel, type DataType, type KernelBackend, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { hogGeometry, lbpBins } from '../spec.ts';
import { glcmAnglesImpl, glcmAnglesLength, glcmFeaturesImpl, glcmImpl } from './glcm_impl.ts';
import { gaborImpl, gaborLength } from './gabor_impl.ts';
import { hogImpl } from './hog_impl.ts';
import { histogramCountsImpl, momentsImpl } from './intensity_impl.ts';
import { lbpCountsImpl } from './lbp_impl.ts';
import {
  GABOR,
  GLCM,
  GLCM_ANGLES,
  GLCM_FEATURES,
  HISTOGRAM,
  HOG,
  LBP,
  MOMENTS,
  type GaborAttrs,
  type GlcmAnglesAttrs,
  type GlcmAttrs,
  type HistogramAttrs,
  type HogAttrs,
  type LbpAttrs,
} from './names.ts';

/** What the CPU-side backends (cpu, wasm) have in common, where tfjs-core's KernelBackend is silent. */
interface CpuSideBackend extends KernelBackend {
  readSync(dataId: object): Float32Array;
  makeTensorInfo?(shape: number[], dtype: DataType, values: Float32Array | Int32Array): TensorInfo;
  makeOutput?(shape: number[], dtype: DataType, memoryOffset?: number, values?: Float32Array | Int32Array): TensorInfo;
}

/** A kernel's output: shape, and float32 or (for counts) int32 values. */
export type KernelResult = [shape: number[], values: Float32Array | Int32Array];
type Impl<A> = (values: Float32Array, batch: number, height: number, width: number, attrs: A) => KernelResult;

function output(backend: CpuSideBackend, [shape, values]: KernelResult): TensorInfo {
  const dtype: DataType = values instanceof Int32Array ? 'int32' : 'float32';
  if (backend.makeTensorInfo) return backend.makeTensorInfo(shape, dtype, values);
  if (backend.makeOutput) return backend.makeOutput(shape, dtype, undefined, values);
  throw new Error('backend can make no output tensor');
}

function kernelFunc<A>(impl: Impl<A>): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const x = inputs['x'] as TensorInfo;
    const [batch, height, width] = x.shape as [number, number, number];
    const b = backend as CpuSideBackend;
    return output(b, impl(b.readSync(x.dataId), batch, height, width, attrs as unknown as A));
  };
}

const hogCpu: Impl<HogAttrs> = (v, batch, h, w, a) => [[batch, hogGeometry(h, w, a).length], hogImpl(v, batch, h, w, a)];
const glcmFeaturesCpu: Impl<GlcmAttrs> = (v, batch, h, w, a) => [[batch, 4], Float32Array.from(glcmFeaturesImpl(v, batch, h, w, a.levels))];
const glcmCpu: Impl<GlcmAttrs> = (v, batch, h, w, a) => [[batch, 4, a.levels, a.levels], glcmImpl(v, batch, h, w, a.levels)];
const lbpCpu: Impl<LbpAttrs> = (v, batch, h, w, a) => [[batch, a.lbp.reduce((n, c) => n + lbpBins(c), 0)], lbpCountsImpl(v, batch, h, w, a.lbp)];
const glcmAnglesCpu: Impl<GlcmAnglesAttrs> = (v, batch, h, w, a) => [
  [batch, glcmAnglesLength(a.distances)],
  Float32Array.from(glcmAnglesImpl(v, batch, h, w, a.levels, a.distances)),
];
const histogramCpu: Impl<HistogramAttrs> = (v, batch, h, w, a) => [[batch, a.bins], histogramCountsImpl(v, batch, h * w, a.bins)];
const gaborCpu: Impl<GaborAttrs> = (v, batch, h, w, a) => [
  [batch, gaborLength(a.frequencies, a.orientations)],
  Float32Array.from(gaborImpl(v, batch, h, w, a.frequencies, a.orientations)),
];
const momentsCpu: Impl<HistogramAttrs> = (v, batch, h, w, a) => [[batch, 5], Float32Array.from(momentsImpl(v, batch, h * w, a.bins))];

/**
 * The families only the CPU-side kernels compute. On another backend (WebGL) the ops run
 * these same functions on the images read back from it, so every backend gives the same
 * numbers; `cpuOnlyKernels` names them for the preview to say so.
 */
export const CPU_ONLY_KERNELS: Readonly<Record<string, Impl<never>>> = {
  [LBP]: lbpCpu as Impl<never>,
  [GLCM_ANGLES]: glcmAnglesCpu as Impl<never>,
  [HISTOGRAM]: histogramCpu as Impl<never>,
  [MOMENTS]: momentsCpu as Impl<never>,
  [GABOR]: gaborCpu as Impl<never>,
};

/** Backends whose tensors live in CPU memory; one typed-array implementation serves them all. */
export const CPU_SIDE_BACKENDS = ['cpu', 'wasm'] as const;

let registered = false;

export function registerCpuSideKernels(): void {
  if (registered) return;
  registered = true;
  const kernels: [string, KernelFunc][] = [
    [HOG, kernelFunc(hogCpu)],
    [GLCM_FEATURES, kernelFunc(glcmFeaturesCpu)],
    [GLCM, kernelFunc(glcmCpu)],
    ...Object.entries(CPU_ONLY_KERNELS).map(([name, impl]): [string, KernelFunc] => [name, kernelFunc(impl)]),
  ];
  for (const backendName of CPU_SIDE_BACKENDS) {
    for (const [kernelName, f] of kernels) registerKernel({ kernelName, backendName, kernelFunc: f });
  }
}
