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

/*
 * The typed-array kernels by kernel name, free of tfjs: the cpu and wasm backends run them
 * (register_cpu.ts), and so does the direct runner (runner.ts) that the server and the
 * command line use without loading tfjs at all.
 */

/** A kernel's output: shape, and float32 or (for counts) int32 values. */
export type KernelResult = [shape: number[], values: Float32Array | Int32Array];
export type Impl<A> = (values: Float32Array, batch: number, height: number, width: number, attrs: A) => KernelResult;

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

/** Every kernel the CPU-side backends register, by name. */
export const CPU_KERNELS: Readonly<Record<string, Impl<never>>> = {
  [HOG]: hogCpu as Impl<never>,
  [GLCM_FEATURES]: glcmFeaturesCpu as Impl<never>,
  [GLCM]: glcmCpu as Impl<never>,
  ...CPU_ONLY_KERNELS,
};
