import { registerKernel, type DataType, type KernelBackend, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { hogGeometry } from '../spec.ts';
import { glcmFeaturesImpl, glcmImpl } from './glcm_impl.ts';
import { hogImpl } from './hog_impl.ts';
import { GLCM, GLCM_FEATURES, HOG, type GlcmAttrs, type HogAttrs } from './names.ts';

/** What the CPU-side backends (cpu, wasm) have in common, where tfjs-core's KernelBackend is silent. */
interface CpuSideBackend extends KernelBackend {
  readSync(dataId: object): Float32Array;
  makeTensorInfo?(shape: number[], dtype: DataType, values: Float32Array): TensorInfo;
  makeOutput?(shape: number[], dtype: DataType, memoryOffset?: number, values?: Float32Array): TensorInfo;
}

function output(backend: CpuSideBackend, shape: number[], values: Float32Array): TensorInfo {
  if (backend.makeTensorInfo) return backend.makeTensorInfo(shape, 'float32', values);
  if (backend.makeOutput) return backend.makeOutput(shape, 'float32', undefined, values);
  throw new Error('backend can make no output tensor');
}

type Impl<A> = (values: Float32Array, batch: number, height: number, width: number, attrs: A) => [number[], Float32Array];

function kernelFunc<A>(impl: Impl<A>): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const x = inputs['x'] as TensorInfo;
    const [batch, height, width] = x.shape as [number, number, number];
    const b = backend as CpuSideBackend;
    const [shape, values] = impl(b.readSync(x.dataId), batch, height, width, attrs as unknown as A);
    return output(b, shape, values);
  };
}

const hogCpu = kernelFunc<HogAttrs>((v, batch, h, w, a) => [[batch, hogGeometry(h, w, a).length], hogImpl(v, batch, h, w, a)]);
const glcmFeaturesCpu = kernelFunc<GlcmAttrs>((v, batch, h, w, a) => [[batch, 4], Float32Array.from(glcmFeaturesImpl(v, batch, h, w, a.levels))]);
const glcmCpu = kernelFunc<GlcmAttrs>((v, batch, h, w, a) => [[batch, 4, a.levels, a.levels], glcmImpl(v, batch, h, w, a.levels)]);

/** Backends whose tensors live in CPU memory; one typed-array implementation serves them all. */
export const CPU_SIDE_BACKENDS = ['cpu', 'wasm'] as const;

let registered = false;

export function registerCpuSideKernels(): void {
  if (registered) return;
  registered = true;
  for (const backendName of CPU_SIDE_BACKENDS) {
    registerKernel({ kernelName: HOG, backendName, kernelFunc: hogCpu });
    registerKernel({ kernelName: GLCM_FEATURES, backendName, kernelFunc: glcmFeaturesCpu });
    registerKernel({ kernelName: GLCM, backendName, kernelFunc: glcmCpu });
  }
}
