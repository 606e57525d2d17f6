import { registerKernel, type DataType, type KernelBackend, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { CPU_KERNELS, type Impl, type KernelResult } from './cpu_kernels.ts';

export { CPU_ONLY_KERNELS, type KernelResult } from './cpu_kernels.ts';

/** What the CPU-side backends (cpu, wasm) have in common, where tfjs-core's KernelBackend is silent. */
interface CpuSideBackend extends KernelBackend {
  readSync(dataId: object): Float32Array;
  makeTensorInfo?(shape: number[], dtype: DataType, values: Float32Array | Int32Array): TensorInfo;
  makeOutput?(shape: number[], dtype: DataType, memoryOffset?: number, values?: Float32Array | Int32Array): TensorInfo;
}

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

/** Backends whose tensors live in CPU memory; one typed-array implementation serves them all. */
export const CPU_SIDE_BACKENDS = ['cpu', 'wasm'] as const;

let registered = false;

export function registerCpuSideKernels(): void {
  if (registered) return;
  registered = true;
  const kernels = Object.entries(CPU_KERNELS).map(([name, impl]): [string, KernelFunc] => [name, kernelFunc(impl)]);
  for (const backendName of CPU_SIDE_BACKENDS) {
    for (const [kernelName, f] of kernels) registerKernel({ kernelName, backendName, kernelFunc: f });
  }
}
